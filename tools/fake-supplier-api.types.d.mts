// The types of tools/fake-supplier-api.mjs (the fake supplier order API used by tests, the demo
// and benchmarks), which re-exports them; its functions carry their own JSDoc and are type-checked
// against these (tsconfig.harness.json). See the header of the .mjs file for the behaviour.
import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';

export interface FakeSupplierConfig {
  /** 0 = a free port. The CLI defaults to 4000, the helpers to 0. */
  port: number;
  /** Default 127.0.0.1. */
  host: string;
  /** Mean latency of each answer (not of rate-limit 429s or 400s). */
  latencyMs: number;
  /** Latency is latencyMs +/- uniform(latencyJitterMs), at least 0. */
  latencyJitterMs: number;
  /** Calls per second, 0 = none. Token bucket with a capacity of one second's worth. */
  rateLimit: number;
  /** Retry-After of injected 429s (seconds, default 1). */
  retryAfterSec: number;
  /** Fault probabilities (0..1, sum <= 1). */
  error5xx: number;
  error429: number;
  timeout: number;
  final4xx: number;
  garbage: number;
  closeConnection: number;
  /** uint32 seed of the PRNG (mulberry32); random when not given, readable through config(). */
  seed: number;
  /** supplierOrderId = idBase + n (n = 1, 2, ...), as a decimal string. Default "167539019420540000". */
  idBase: string;
  /** Default 1 MiB; larger bodies get 413. */
  maxBodyBytes: number;
}

export type FakeSupplierOptions = Partial<Omit<FakeSupplierConfig, 'idBase'>> & { idBase?: string | number | bigint };

/** Runtime changes (port and host cannot change). */
export type FakeSupplierConfigChanges = Partial<Omit<FakeSupplierOptions, 'port' | 'host'>>;

/**
 * A forced outcome: "201" (no fault), "422" (final, stored), "429" or "429:<seconds>", any 5xx
 * ("503"), "timeout" (held open), "close" (socket destroyed after the side effect: lost answer),
 * "close-before" (destroyed, no side effect), "garbage" (side effect, 200 with an unparsable body).
 */
export type FakeSupplierAnswer =
  '201' | '422' | '429' | `429:${number}` | `5${number}` | `5${number}:${number}` | 'timeout' | 'close' | 'close-before' | 'garbage';

export interface FakeSupplierKeyCounters {
  calls: number;
  sideEffects: number;
  concurrent: number;
  maxConcurrent: number;
}

export interface FakeSupplierStats {
  /** Order calls received, rejected ones (429, 400, ...) included. */
  calls: number;
  sideEffects: number;
  rejectedForRate: number;
  inFlight: number;
  maxInFlight: number;
  /** Requests held open by "timeout" right now. */
  held: number;
  /** Keys or order ids that got more than one side effect; must stay 0. */
  duplicateSideEffects: number;
  /** Most calls seen in any sliding one-second window (exact). */
  maxCallsPerSecond: number;
  replays: number;
  /** 409s: the key was in flight. */
  conflicts: number;
  /** 422s: the key was reused with a different body. */
  mismatches: number;
  badRequests: number;
  /** Count per outcome: "201", "409", "422", "429", "503", "400", "timeout", "close", "garbage", ... */
  answers: Record<string, number>;
  /** Distinct keys seen. */
  keys: number;
  /** Only with { keys: true } (GET /_stats?keys=1). */
  perKey?: Record<string, FakeSupplierKeyCounters>;
}

export interface FakeSupplierKeyStats extends FakeSupplierKeyCounters {
  key: string;
  seen: boolean;
  /** The first call with this key is still unanswered. */
  inFlight: boolean;
  /** The stored answer replayed to later calls. */
  answer: { status: number; body: any } | null;
  /** Scripted answers still to come for this key. */
  scripted: string[];
}

export interface FakeSupplierScriptResult {
  orderId: string;
  answers: string[];
}

export interface FakeSupplierApi {
  /** The orders endpoint, http://host:port/orders (POST / works too). */
  url: string;
  /** http://host:port */
  baseUrl: string;
  port: number;
  server: Server;
  stats(options?: { keys?: boolean }): FakeSupplierStats;
  keyStats(key: string): FakeSupplierKeyStats;
  /** JSON merge; throws on invalid values. Returns the whole config. */
  configure(changes: FakeSupplierConfigChanges): FakeSupplierConfig;
  config(): FakeSupplierConfig;
  /** Forces the next outcomes for an order id (or Idempotency-Key); [] clears. */
  script(orderId: string, answers: FakeSupplierAnswer[]): FakeSupplierScriptResult;
  /** Clears state, counters and scripts (config stays; supplier order ids keep counting). */
  reset(): void;
  /** Stops accepting, destroys held requests, lets delayed answers out for up to graceMs (2000). */
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface FakeSupplierExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's stdout (its last 64 KiB): the listening line and the summary line. */
  output: string;
  /** The child's stderr (its last 16 KiB). */
  errors: string;
}

export interface SpawnedFakeSupplierApi {
  url: string;
  baseUrl: string;
  port: number;
  pid: number | undefined;
  child: ChildProcess;
  /** Settles when the child has exited and its output is drained. */
  exited: Promise<FakeSupplierExit>;
  stats(options?: { keys?: boolean }): Promise<FakeSupplierStats>;
  keyStats(key: string): Promise<FakeSupplierKeyStats>;
  configure(changes: FakeSupplierConfigChanges): Promise<FakeSupplierConfig>;
  config(): Promise<FakeSupplierConfig>;
  script(orderId: string, answers: FakeSupplierAnswer[]): Promise<FakeSupplierScriptResult>;
  reset(): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutMs (10000). */
  stop(options?: { timeoutMs?: number }): Promise<FakeSupplierExit>;
  /** SIGKILL. */
  kill(): Promise<FakeSupplierExit>;
}

export interface SpawnFakeSupplierOptions extends FakeSupplierOptions {
  /** How long to wait for the "listening" line (10000). */
  startTimeoutMs?: number;
  /** Extra environment for the child (the parent's FAKE_SUPPLIER_* variables are not passed). */
  env?: Record<string, string>;
}
