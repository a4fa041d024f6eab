import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEED, generateCases, KNOWN_ORDER_ID, type Case } from './support/bad-input-cases.js';
import { api, orderMessage, push1688 } from './support/http.js';
import { eventually, startTestService, type TestService } from './support/service.js';

/** Replay a failure with BAD_INPUT_SEED=<seed> BAD_INPUT_CASES=<count> npx vitest run test/bad-input.e2e.ts */
const SEED = process.env.BAD_INPUT_SEED ? Number(process.env.BAD_INPUT_SEED) : DEFAULT_SEED;
const COUNT = process.env.BAD_INPUT_CASES ? Number(process.env.BAD_INPUT_CASES) : 1_000;
const CONCURRENCY = 32;
const REQUEST_TIMEOUT_MS = 20_000;
/** BAD_INPUT_VERBOSE=1 prints every case with its answer. */
const VERBOSE = process.env.BAD_INPUT_VERBOSE === '1';

interface Outcome {
  status: number;
  contentType: string;
  connection: string;
  text: string;
}

let t: TestService;
let retriedOnFreshSocket = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/**
 * Sends a case byte for byte with node:http: raw path, duplicate header lines, exact body bytes.
 * A keep-alive socket the server closed just before reuse is retried once on a fresh socket
 * (the race Node documents for `request.reusedSocket`); a reset on a fresh socket is a failure.
 */
async function send(baseUrl: string, c: Case): Promise<Outcome> {
  if (c.freshConnection) return sendOnce(baseUrl, c, false);
  try {
    return await sendOnce(baseUrl, c, agent);
  } catch (error) {
    const { code, reusedSocket } = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
    if (!reusedSocket || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw error;
    retriedOnFreshSocket++;
    return sendOnce(baseUrl, c, false).catch((retryError: Error) => {
      throw Object.assign(retryError, { message: `${retryError.message} (again on a fresh socket, after ${code} on a reused one)` });
    });
  }
}

function sendOnce(baseUrl: string, c: Case, via: http.Agent | false): Promise<Outcome> {
  const url = new URL(baseUrl);
  const body = typeof c.body === 'string' ? Buffer.from(c.body, 'utf8') : c.body;
  const headers: Record<string, string | string[]> = { ...c.headers, ...(c.atSend?.(Date.now()) ?? {}) };
  if (c.chunked) headers['transfer-encoding'] = 'chunked';
  else if (body.length > 0 || !['GET', 'HEAD', 'DELETE'].includes(c.method)) headers['content-length'] = String(body.length);

  return new Promise<Outcome>((resolve, reject) => {
    let answered = false;
    const request = http.request(
      { host: url.hostname, port: url.port, method: c.method, path: c.path, headers, agent: via },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: String(response.headers['content-type'] ?? ''),
            connection: String(response.headers.connection ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    // The server may answer (413) and close before the whole body is written: that is not a failure.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) reject(Object.assign(error, { reusedSocket: request.reusedSocket }));
    });
    if (c.chunked) {
      for (let at = 0; at < body.length; at += 64 * 1024) request.write(body.subarray(at, at + 64 * 1024));
      request.end();
    } else {
      request.end(body);
    }
  });
}

/** What is wrong with this answer, or null when it is what the case expects. */
function judge(c: Case, outcome: Outcome): string | null {
  const { status } = outcome;
  const family = Math.floor(status / 100);
  if (family === 5) return 'a 5xx';
  if (family !== 2 && family !== 4) return `an unexpected ${status}`;
  if (c.expect === 'reject' && family !== 4) return 'a 2xx where a 4xx was expected';
  if (c.expect === 'accept' && family !== 2) return 'a 4xx where a 2xx was expected';
  if (c.status && !c.status.includes(status)) return `${status} where ${c.status.join(' or ')} was expected`;
  if (c.freshConnection && !/\bclose\b/i.test(outcome.connection)) {
    return `answered without "Connection: close" (got "${outcome.connection}") although the server drops the connection: keep-alive clients lose their next request`;
  }
  if (family === 4) {
    if (!/application\/json/i.test(outcome.contentType)) return `a 4xx with content-type "${outcome.contentType}" instead of JSON`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(outcome.text);
    } catch {
      return 'a 4xx whose body is not JSON';
    }
    const message = (parsed as { message?: unknown } | null)?.message;
    const hasMessage = (typeof message === 'string' && message.trim() !== '') || (Array.isArray(message) && message.length > 0);
    if (!hasMessage) return 'a 4xx JSON error without a message';
  }
  return null;
}

async function runAll(cases: Case[]): Promise<{ failures: string[]; statuses: Map<number, number> }> {
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      try {
        const outcome = await send(t.baseUrl, c);
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        const problem = judge(c, outcome);
        if (VERBOSE)
          console.log(
            `${problem ? 'FAIL' : 'ok  '} ${outcome.status} ${c.name} [${c.expect}] ${outcome.text.slice(0, 160).replace(/\s+/g, ' ')}`,
          );
        if (problem)
          failures.push(
            `${c.name} [expect ${c.expect}${c.status ? ` ${c.status.join('|')}` : ''}]: ${problem} -> ${outcome.status} ${outcome.contentType} ${outcome.text.slice(0, 240).replace(/\s+/g, ' ')}`,
          );
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        failures.push(
          `${c.name} [expect ${c.expect}]: connection failed -> ${e.code ?? ''} ${e.message}${(e as { reusedSocket?: boolean }).reusedSocket === false ? ' (fresh socket)' : ''}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { failures, statuses };
}

beforeAll(async () => {
  t = await startTestService('bad_input');
  const created = await api(t.baseUrl, 'POST', '/orders', { id: KNOWN_ORDER_ID, payload: { known: true } });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  agent.destroy();
  await t?.stop();
});

describe(`bad input (BAD_INPUT_SEED=${SEED} BAD_INPUT_CASES=${COUNT})`, () => {
  it('answers every generated case with a 2xx or a 4xx as expected, 4xx always a JSON error with a message', async () => {
    expect(Number.isInteger(SEED) && Number.isInteger(COUNT) && COUNT > 0, 'BAD_INPUT_SEED and BAD_INPUT_CASES must be integers').toBe(
      true,
    );
    const cases = generateCases(SEED, COUNT);
    const started = Date.now();
    const { failures, statuses } = await runAll(cases);
    const summary = [...statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}×${n}`)
      .join(' ');
    console.log(
      `bad input: ${cases.length} cases in ${Date.now() - started} ms (seed ${SEED}): ${summary}; ${retriedOnFreshSocket} resent after a reused keep-alive socket was closed`,
    );
    if (failures.length > 0) {
      const header = `${failures.length} of ${cases.length} bad-input cases failed. Replay: BAD_INPUT_SEED=${SEED} BAD_INPUT_CASES=${COUNT} npx vitest run test/bad-input.e2e.ts`;
      expect.fail(`${header}\n${failures.join('\n')}`);
    }
  }, 60_000);

  it('is still alive afterwards and still applies a valid 1688 push', async () => {
    const live = await api(t.baseUrl, 'GET', '/health/live', undefined, null);
    expect(live.status).toBe(200);
    const supplierOrderId = `1675${String(SEED >>> 0)
      .padStart(10, '0')
      .slice(-10)}0001`;
    const pushed = await push1688(
      t.baseUrl,
      orderMessage({ msgId: `9${String(Date.now())}`, orderId: supplierOrderId, status: 'waitsellersend' }),
    );
    expect(pushed.status).toBe(200);
    const order = await eventually(
      async () => {
        const found = await api(t.baseUrl, 'GET', `/orders?supplierOrderId=${supplierOrderId}`);
        return found.status === 200 && found.body.items?.[0]?.supplierStatus === 'waitsellersend' ? found.body.items[0] : undefined;
      },
      15_000,
      'the final 1688 push to be applied',
    );
    expect(order).toMatchObject({ supplierOrderId, status: 'EXTERNAL' });

    // Nothing answered 2xx may end up failed or dead-lettered: every acknowledged message is
    // applied (or recorded as ignored with its reason), whatever its content.
    const queues = await eventually(
      async () => {
        const answer = await api(t.baseUrl, 'GET', '/queues', undefined, null);
        const work = (answer.body?.queues ?? []) as {
          name: string;
          waiting: number;
          active: number;
          delayed: number;
          failed: number;
          deadLettered: number;
        }[];
        return work.length > 0 &&
          work
            .filter((q) => q.name.startsWith('order-events') && !q.name.endsWith('-dead'))
            .every((q) => q.waiting + q.active + q.delayed === 0)
          ? work
          : undefined;
      },
      20_000,
      'the order-events queues to drain',
    );
    const stuck = queues.filter((q) => q.name.startsWith('order-events') && (q.failed > 0 || q.deadLettered > 0));
    expect(stuck, 'acknowledged messages that failed or were dead-lettered').toEqual([]);
  }, 30_000);
});
