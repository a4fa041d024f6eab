// The types of tools/simulator-1688.mjs (the 1688 push simulator used by tests, the demo and
// benchmarks), which re-exports them; its functions carry their own JSDoc and are type-checked
// against these (tsconfig.harness.json). See the header of the .mjs file for the behaviour.

export type OrderStatus1688 = 'waitbuyerpay' | 'waitsellersend' | 'waitbuyerreceive' | 'confirm_goods' | 'success' | 'cancel';

export type OrderTopic1688 =
  | 'ORDER_BUYER_VIEW_BUYER_MAKE'
  | 'ORDER_BUYER_VIEW_ORDER_PAY'
  | 'ORDER_BUYER_VIEW_ANNOUNCE_SENDGOODS'
  | 'ORDER_BUYER_VIEW_ORDER_COMFIRM_RECEIVEGOODS'
  | 'ORDER_BUYER_VIEW_ORDER_SUCCESS'
  | 'ORDER_BUYER_VIEW_ORDER_BUYER_CLOSE';

/** Supplier order id: digits, kept as a string (values are above 2^53). */
export type SupplierOrderId = string;

export interface PlanOptions {
  /** HMAC-SHA1 key of `_aop_signature`. */
  appSecret: string;
  /** Explicit supplier order ids (digit strings or bigints; numbers only when safe integers). */
  ids?: ReadonlyArray<string | bigint | number>;
  /** Or: `count` orders with ids idBase + 1 .. idBase + count (what the fake supplier API answers). */
  count?: number;
  /** Default "167539019420540000". */
  idBase?: string | number | bigint;
  /** Share of orders that end in `cancel` after 1-2 steps (default 0.1). */
  cancelRate?: number;
  /** Share of messages delivered a second time, same msgId, 1..100 deliveries later (default 0). */
  duplicateRate?: number;
  /** Chance, per later message of an order, to swap places with the one before it (default 0). */
  reorderRate?: number;
  /** uint32 PRNG seed; random when not given (the report says which). */
  seed?: number;
  /** Simulated clock start (ms, ISO string or Date; floored to the second). Default: the timeline ends 1 s before now. */
  startTime?: number | string | Date;
  /** Orders start within this many simulated seconds (default 3600). */
  orderSpreadSec?: number;
  /** Each next status comes 1..stepGapMaxSec simulated seconds after the one before (default 600). */
  stepGapMaxSec?: number;
  /** msgIds are msgIdBase + 1, + 2, ... (default: unix seconds x 1e6, so runs do not collide). */
  msgIdBase?: number;
  /** Default "b2b-1676547900b7bb3". */
  userInfo?: string;
  /** Push path under target (default "/webhooks/1688"). */
  path?: string;
  /** Share of messages never pushed at all, duplicates included (default 0; own PRNG stream). */
  dropRate?: number;
  /** msgIds never pushed at all. */
  dropMsgIds?: ReadonlyArray<string | number | bigint>;
  /** Share of orders whose status changes at 1688 after the run with no push (default 0; needs openApi to happen). */
  silentChangeRate?: number;
  /** Explicit silent changes (they win over silentChangeRate for their order). */
  silentChanges?: ReadonlyArray<{ orderId: string | bigint; status: string }>;
}

/**
 * What the simulator needs of a fake 1688 Open API in this process (tools/fake-1688-open-api.mjs's
 * startFake1688OpenApi() instance is one).
 */
export interface OpenApiStore {
  addMessages(texts: readonly string[]): unknown;
  addOrders(orders: Array<{ id: string; status: string; createTime: number; modifyTime: number }>): unknown;
  setOrderStatus(
    id: string,
    status: string,
    options?: { modifyTime?: number; emitMessage?: boolean; type?: string; refundStatus?: string },
  ): { order: { id: string; status: string; modifyTime: number } };
}

export interface SimulatorOptions extends PlanOptions {
  /** Base URL of the receiver, e.g. http://127.0.0.1:3000 (a path prefix is kept). */
  target: string;
  /** Deliveries per second, open loop (default 100; 0 or Infinity = as fast as concurrency allows). Retries are extra. */
  rate?: number;
  /** Requests in flight at most (default 16); also the keep-alive agent's socket limit. */
  concurrency?: number;
  /** Re-sends of a non-2xx answer, network error or timeout (default 3). */
  retries?: number;
  /** Gap before re-send k is retryBaseMs * 2^(k-1) (default 200: 200, 400, 800 ms). */
  retryBaseMs?: number;
  /** Per request (default 10000). */
  timeoutMs?: number;
  /** Called every progressIntervalMs (default 1000) while the run lasts. */
  onProgress?: (progress: SimulatorProgress) => void;
  progressIntervalMs?: number;
  /** Stops the run: nothing new is sent, waiting retries give up, requests in flight finish. */
  signal?: AbortSignal;
  /**
   * A fake 1688 Open API (an instance, or its base URL with its /_admin routes): every message
   * with no acknowledged delivery goes into its message store (when dropped or given up, the rest
   * at the end), the orders are registered in its order store, silent changes are made there.
   */
  openApi?: OpenApiStore | string;
  /** Register the orders (final status, modifyTime = last change) in openApi before sending (default true). */
  registerOrders?: boolean;
}

export interface SimulatorProgress {
  elapsedMs: number;
  /** Planned deliveries (messages + duplicates). */
  total: number;
  sent: number;
  acknowledged: number;
  failed: number;
  retried: number;
  inFlight: number;
  pendingRetries: number;
  ratePerSec: number;
}

export interface PlannedDelivery {
  /** Position in the send sequence. */
  index: number;
  msgId: number;
  orderId: SupplierOrderId;
  /** 0-based step of the order's lifecycle. */
  step: number;
  status: OrderStatus1688;
  type: OrderTopic1688;
  /** Simulated time of the status change (ms, whole seconds). */
  eventTime: number;
  /** "YYYY-MM-DD HH:mm:ss", China time (UTC+8), of eventTime. */
  msgSendTime: string;
  /** eventTime + 0..999 ms. */
  gmtBorn: number;
  /** The message JSON text (orderId a bare number, digit for digit). */
  message: string;
  /** The form-encoded request body. */
  body: string;
  /** A second delivery of a message already in the sequence (same msgId and body). */
  duplicate: boolean;
  /** Planned after a newer message of the same order (duplicates never count). */
  reordered: boolean;
  /** Never sent (dropRate / dropMsgIds), like every copy of its message. */
  dropped: boolean;
}

export interface SilentChange {
  orderId: SupplierOrderId;
  /** The status before (the order's last pushed status). */
  from: OrderStatus1688;
  /** waitbuyerpay / waitsellersend -> cancel; waitbuyerreceive / confirm_goods / success -> terminated, unless given. */
  status: string;
}

export interface SimulatorPlan {
  seed: number;
  startTime: number;
  msgIdBase: number;
  orders: SupplierOrderId[];
  /** Unique messages. */
  messages: number;
  duplicates: number;
  reordered: number;
  /** Unique messages per status. */
  byStatus: Record<string, number>;
  /** Status of each order's newest message (by msgSendTime). */
  lastStatusByOrder: Record<SupplierOrderId, OrderStatus1688>;
  /** Unique messages dropped. */
  dropped: number;
  silentChanges: SilentChange[];
  /** lastStatusByOrder with the silent changes applied: 1688's state after the run. */
  finalStatusAt1688: Record<SupplierOrderId, string>;
  deliveries: PlannedDelivery[];
}

export interface SimulatorFailure {
  msgId: number;
  orderId: SupplierOrderId;
  status: OrderStatus1688;
  attempts: number;
  lastError: string;
}

export interface SimulatorReport {
  /** The URL pushed to. */
  target: string;
  /** Replay a run with these three (and the same ids and rates). */
  seed: number;
  startTime: number;
  msgIdBase: number;
  orders: number;
  /** Unique messages planned. */
  messages: number;
  /** Deliveries started (originals + duplicates), each counted once whatever its retries. */
  sent: number;
  /** Deliveries that got a 2xx (acknowledged + failed === sent). */
  acknowledged: number;
  /** Distinct msgIds that got a 2xx. */
  acknowledgedMessages: number;
  /** Deliveries given up after `retries` re-sends (or abandoned by an abort). */
  failed: number;
  /** Re-sends made. */
  retried: number;
  /** HTTP requests made (sent + retried). */
  requests: number;
  duplicatesSent: number;
  /** Messages planned after a newer message of the same order. */
  reordered: number;
  /** Planned deliveries never started (only after an abort; dropped ones not included). */
  notSent: number;
  /** Deliveries dropped (never sent; sent + dropped + notSent = planned deliveries). */
  dropped: number;
  /** Unique messages dropped. */
  droppedMessages: number;
  /** Unique messages with no acknowledged delivery (messages - acknowledgedMessages). */
  unacknowledgedMessages: number;
  /** Unique messages handed to openApi's store (or that would have been, without openApi). */
  handedToStore: number;
  handedToStoreByReason: { dropped: number; failed: number; notSent: number };
  /** Errors handing messages to openApi (first 20). */
  storeErrors: string[];
  /** Orders registered in openApi's order store. */
  ordersRegistered: number;
  /** Silent changes made at openApi, with their modifyTime. */
  silentChanges: Array<SilentChange & { modifyTime: number }>;
  /** 1688's status of each order after the run (with openApi: silent changes included). */
  finalStatusAt1688: Record<SupplierOrderId, string>;
  aborted: boolean;
  /** Unique messages sent per status. */
  byStatus: Record<string, number>;
  /**
   * Per order, the status of the acknowledged message with the newest msgSendTime: what the
   * receiver must end with. Equal to the plan's when failed === 0.
   */
  lastStatusByOrder: Record<SupplierOrderId, OrderStatus1688>;
  /** Request start to the end of a 2xx answer. */
  ackLatencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Answers by HTTP status, or error code ("ECONNRESET", "ETIMEDOUT", ...). */
  responses: Record<string, number>;
  /** The first 20 failed deliveries. */
  failures: SimulatorFailure[];
  elapsedMs: number;
  /** Deliveries started per second. */
  ratePerSec: number;
  /** How far the open-loop schedule fell behind at worst (concurrency full). */
  maxScheduleLagMs: number;
}
