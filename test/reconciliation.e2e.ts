import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFake1688OpenApi } from '../tools/fake-1688-open-api.mjs';
import { runSimulator } from '../tools/simulator-1688.mjs';
import { api, orderMessage, push1688 } from './support/http.js';
import { startServiceProcess } from './support/processes.js';
import { ADMIN_KEY, APP_SECRET, dropDatabase, eventually, isolatedNames, startTestService, type TestService } from './support/service.js';

/** Never lose a 1688 status: the pull recovers what 1688 could not push, the sweep what it never pushed. */
const ACCESS_TOKEN = 'test-access-token-0123456789';
const REFRESH_TOKEN = 'test-refresh-token-0123456789';

type Fake = Awaited<ReturnType<typeof startFake1688OpenApi>>;
let fake: Fake;
let t: TestService;

function syncEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ALIBABA_SYNC_ENABLED: 'true',
    ALIBABA_API_URL: fake.url,
    ALIBABA_APP_KEY: '1234567',
    ALIBABA_APP_SECRET: APP_SECRET,
    ALIBABA_ACCESS_TOKEN: ACCESS_TOKEN,
    ALIBABA_REFRESH_TOKEN: REFRESH_TOKEN,
    ALIBABA_API_RATE_LIMIT: '200',
    ALIBABA_API_RETRIES: '3',
    PUSH_PULL_CRON: 'off',
    RECONCILE_CRON: 'off',
    ...extra,
  };
}

beforeAll(async () => {
  fake = await startFake1688OpenApi({
    appKey: '1234567',
    appSecret: APP_SECRET,
    accessToken: ACCESS_TOKEN,
    refreshToken: REFRESH_TOKEN,
    seed: 1688,
  });
  t = await startTestService('reconcile', syncEnv());
});
afterAll(async () => {
  await t?.stop();
  await fake?.close();
});
afterEach(() => {
  fake.configure({ qos: 0, error5xx: 0, notJson: 0, missingFields: 0, latencyMs: 0 });
});

async function runNow(service = t) {
  const answer = await api(service.baseUrl, 'POST', '/reconciliation/run', {}, ADMIN_KEY);
  expect(answer.status).toBe(202);
}

async function finished(kind: 'pull' | 'sweep', afterId: number, service = t) {
  return eventually(
    async () => {
      const view = (await api(service.baseUrl, 'GET', '/reconciliation')).body;
      const run = view[kind].last;
      return run && Number(run.id) > afterId && run.finishedAt ? run : undefined;
    },
    30_000,
    `a ${kind} run to finish`,
  );
}

async function lastRunId(kind: 'pull' | 'sweep', service = t): Promise<number> {
  return Number((await api(service.baseUrl, 'GET', '/reconciliation')).body[kind].last?.id ?? 0);
}

async function supplierOrder(id: string) {
  return (await api(t.baseUrl, 'GET', `/orders?supplierOrderId=${id}`)).body.items[0];
}

describe('pull: what 1688 could not push', () => {
  it('takes in every message 1688 gave up pushing, applies each once, and confirms each once', async () => {
    // The endpoint refuses every push (a wrong path: 404) longer than 1688's three re-sends.
    const report = await runSimulator({
      target: t.baseUrl,
      path: '/webhooks/not-here',
      appSecret: APP_SECRET,
      count: 12,
      idBase: '268000000000000000',
      retries: 3,
      retryBaseMs: 5,
      rate: 0,
      openApi: fake,
      seed: 11,
    });
    expect(report.handedToStore).toBeGreaterThanOrEqual(12);
    const msgIds = fake.messages({ pendingOnly: true }).map((m: { msgId: string }) => String(m.msgId));
    expect(msgIds.length).toBe(report.handedToStore);
    const before = await lastRunId('pull');
    await runNow();
    const run = await finished('pull', before);
    expect(run).toMatchObject({ outcome: 'ok', counts: expect.objectContaining({ confirmed: msgIds.length }) });
    await eventually(
      async () => {
        const { rows } = await t.db.query(
          `SELECT count(*)::int AS n FROM inbox_messages WHERE source = '1688' AND message_id = ANY($1::text[])`,
          [msgIds],
        );
        return rows[0].n === msgIds.length ? true : undefined;
      },
      20_000,
      'every pulled message applied',
    );
    for (const id of msgIds) expect(fake.confirmCount(id)).toBe(1);
    expect(fake.pendingMessages()).toBe(0);
    // Each order ends with 1688's last status, once per message in its history.
    for (const [orderId, status] of Object.entries(report.finalStatusAt1688)) {
      const order = await eventually(
        async () => {
          const found = await supplierOrder(orderId);
          return found?.supplierStatus === status ? found : undefined;
        },
        10_000,
        `order ${orderId} at ${status}`,
      );
      const history = (await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(order.id)}/events`)).body.items;
      const ids = history.map((e: { messageId: string }) => e.messageId);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('pulls again after a failed confirm and applies the messages once: the inbox dedupes', async () => {
    const message = orderMessage({ msgId: 990001, orderId: '268000000000000100', status: 'waitsellersend', sentAt: '2026-11-20 10:00:00' });
    fake.addMessage(message);
    // One run's worth of failures: the first call and its three retries.
    fake.script('push.message.confirm', ['503', '503', '503', '503']);
    const before = await lastRunId('pull');
    await runNow();
    expect(await finished('pull', before)).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/push.message.confirm/) });
    expect(fake.confirmCount('990001')).toBe(0);
    const again = await lastRunId('pull');
    await runNow();
    expect(await finished('pull', again)).toMatchObject({ outcome: 'ok' });
    expect(fake.confirmCount('990001')).toBe(1);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM order_history WHERE message_id = '990001'`);
    expect(rows[0].n).toBe(1);
  });

  it('survives answers that are not JSON, lack fields, or carry errors in either form: retried, nothing lost', async () => {
    fake.addMessage(orderMessage({ msgId: 990002, orderId: '268000000000000101', status: 'waitbuyerpay' }));
    fake.script('push.query.messageList', ['not-json', 'missing-fields', '503:errorCode', '502', 'error200', 'qos', 'qos200']);
    // Each run retries what is worth it (ALIBABA_API_RETRIES) and reports the rest; a later run takes the message.
    let outcome = 'failed';
    for (let run = 0; run < 4 && outcome !== 'ok'; run++) {
      const before = await lastRunId('pull');
      await runNow();
      outcome = (await finished('pull', before)).outcome as string;
    }
    expect(outcome).toBe('ok');
    await eventually(
      async () => ((await supplierOrder('268000000000000101'))?.supplierStatus === 'waitbuyerpay' ? true : undefined),
      15_000,
    );
    expect(fake.confirmCount('990002')).toBe(1);
    expect((await api(t.baseUrl, 'GET', '/health/live', undefined, null)).status).toBe(200);
  });
});

describe('a crash between pulling and confirming', () => {
  it('applies the messages once and confirms them after a kill -9', { timeout: 120_000 }, async () => {
    const names = isolatedNames('pull_crash');
    const message = orderMessage({ msgId: 990500, orderId: '268000000000000500', status: 'waitsellersend', sentAt: '2026-11-21 10:00:00' });
    fake.addMessage(message);
    // The confirm never reaches 1688 while the first process lives: its connection is cut, again and again.
    fake.script(
      'push.message.confirm',
      Array.from({ length: 40 }, () => 'close-before'),
    );
    const first = await startServiceProcess(names, syncEnv({ ALIBABA_API_RETRIES: '30' }));
    let second: Awaited<ReturnType<typeof startServiceProcess>> | undefined;
    try {
      const base = `http://127.0.0.1:${first.port}`;
      expect((await api(base, 'POST', '/reconciliation/run', {}, ADMIN_KEY)).status).toBe(202);
      // Queued and applied, not confirmed: the worst moment to die.
      await eventually(
        async () =>
          (await api(base, 'GET', '/orders?supplierOrderId=268000000000000500')).body.items?.[0]?.supplierStatus === 'waitsellersend'
            ? true
            : undefined,
        30_000,
        'the pulled message applied',
      );
      expect(fake.confirmCount('990500')).toBe(0);
      await first.kill();
      fake.script('push.message.confirm', []);
    } catch (error) {
      await first.kill();
      throw error;
    }
    try {
      second = await startServiceProcess(names, syncEnv());
      const base = `http://127.0.0.1:${second.port}`;
      expect((await api(base, 'POST', '/reconciliation/run', {}, ADMIN_KEY)).status).toBe(202);
      await eventually(() => (fake.confirmCount('990500') === 1 ? true : undefined), 30_000, 'the message confirmed');
      const order = (await api(base, 'GET', '/orders?supplierOrderId=268000000000000500')).body.items[0];
      const history = (await api(base, 'GET', `/orders/${encodeURIComponent(order.id)}/events`)).body.items;
      expect(history.filter((e: { messageId: string }) => e.messageId === '990500')).toHaveLength(1);
    } finally {
      await second?.stop();
      await dropDatabase(names.databaseName);
    }
  });
});

describe('sweep: statuses 1688 never pushed', () => {
  it('repairs a status changed at 1688 without a push, shown as a 1688-reconcile message', async () => {
    const id = '268000000000000200';
    expect(
      (await push1688(t.baseUrl, orderMessage({ msgId: 990100, orderId: id, status: 'waitsellersend', sentAt: '2026-11-20 10:00:00' })))
        .status,
    ).toBe(200);
    await eventually(async () => ((await supplierOrder(id))?.supplierStatus === 'waitsellersend' ? true : undefined));
    fake.addOrders([
      { id, status: 'waitsellersend', createTime: Date.parse('2026-11-20T01:00:00Z'), modifyTime: Date.parse('2026-11-20T02:00:00Z') },
    ]);
    fake.setOrderStatus(id, 'cancel', { emitMessage: false });
    const before = await lastRunId('sweep');
    await runNow();
    const run = await finished('sweep', before);
    expect(run).toMatchObject({ outcome: 'ok', counts: expect.objectContaining({ drifted: 1 }) });
    const order = await eventually(
      async () => {
        const found = await supplierOrder(id);
        return found?.supplierStatus === 'cancel' ? found : undefined;
      },
      15_000,
      'the repair applied',
    );
    const history = (await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(order.id)}/events`)).body.items;
    expect(history.at(-1)).toMatchObject({ source: '1688-reconcile', supplierStatus: 'cancel', outcome: 'applied' });
  });

  it('never lets an older 1688 state overwrite a newer pushed one', async () => {
    const id = '268000000000000201';
    fake.addOrders([{ id, status: 'waitsellersend', createTime: Date.now() - 3_600_000, modifyTime: Date.now() - 3_000_000 }]);
    // Pushed later than 1688's modifyTime: ours is newer.
    const sentAt = new Date(Date.now() + 8 * 3_600_000 - 60_000).toISOString().replace('T', ' ').slice(0, 19);
    await push1688(t.baseUrl, orderMessage({ msgId: 990101, orderId: id, status: 'waitbuyerreceive', sentAt }));
    await eventually(async () => ((await supplierOrder(id))?.supplierStatus === 'waitbuyerreceive' ? true : undefined));
    const before = await lastRunId('sweep');
    await runNow();
    await finished('sweep', before);
    expect((await supplierOrder(id)).supplierStatus).toBe('waitbuyerreceive');
  });

  it('makes an EXTERNAL order of a supplier order it did not know', async () => {
    const id = '268000000000000202';
    fake.addOrders([{ id, status: 'waitbuyerpay', createTime: Date.now() - 60_000, modifyTime: Date.now() - 30_000 }]);
    const before = await lastRunId('sweep');
    await runNow();
    expect((await finished('sweep', before)).counts.unknown).toBeGreaterThanOrEqual(1);
    await eventually(async () => ((await supplierOrder(id))?.status === 'EXTERNAL' ? true : undefined), 15_000);
  });

  it('converges while 1688 answers gw.Qos to a third of the calls', async () => {
    fake.seedOrders({ count: 300, idBase: '268000000000100000', status: 'waitsellersend' });
    fake.configure({ qos: 0.33 });
    const before = await lastRunId('sweep');
    await runNow();
    const run = await finished('sweep', before);
    expect(run.outcome).toBe('ok');
    expect(run.counts.examined).toBeGreaterThanOrEqual(300);
    expect(fake.stats().outcomes.rateLimited ?? fake.stats().outcomes['injected:qos'] ?? 0).toBeGreaterThan(0);
  });

  it('reads a long window in creation-time slices at once when 1688 is slow, every part of it, the oldest creations included', async () => {
    // 2,000 orders modified in the last minute, created over the last 40 days (oldest first), at 40 ms an answer.
    const now = Date.now();
    const ids = Array.from({ length: 2_000 }, (_, i) => String(268_000_000_000_400_000n + BigInt(i)));
    fake.addOrders(
      ids.map((id, i) => ({
        id,
        status: 'waitbuyerpay',
        createTime: now - 40 * 86_400_000 + i * 1_700_000,
        modifyTime: now - 60_000 + (i % 50) * 1_000,
      })),
    );
    fake.configure({ latencyMs: 40 });
    fake.resetStats();
    const before = await lastRunId('sweep');
    await runNow();
    const run = await finished('sweep', before);
    expect(run.outcome).toBe('ok');
    // 200/s × 40 ms + 1 slices of some 40 pages, read at once; every order seen once.
    expect(run.counts.slices).toBeGreaterThanOrEqual(3);
    expect(fake.stats().maxInFlight).toBeGreaterThanOrEqual(3);
    expect(run.counts.unknown).toBeGreaterThanOrEqual(2_000);
    await eventually(
      async () => {
        const { rows } = await t.db.query(
          `SELECT count(*)::int AS n FROM orders WHERE status = 'EXTERNAL' AND supplier_order_id = ANY($1::text[])`,
          [ids],
        );
        return rows[0].n === ids.length ? true : undefined;
      },
      20_000,
      'an EXTERNAL order for each of the 2,000',
    );
  });

  it('re-reads stale linked orders in turn: those found unchanged make way for the next ones', async () => {
    // Five linked orders whose status has not moved here for two days, oldest first; 1688 changed the
    // last three long ago (outside any window), without a push. Two re-reads per sweep.
    const stale = await startTestService('reconcile_stale', syncEnv({ RECONCILE_STALE_BATCH: '2' }));
    try {
      const now = Date.now();
      const ids = ['268000000000500001', '268000000000500002', '268000000000500003', '268000000000500004', '268000000000500005'];
      const at = ids.map((_, i) => now - 2 * 86_400_000 + i * 1_000);
      await stale.db.query(
        `INSERT INTO orders (id, status, payload, supplier_order_id, supplier_status, supplier_status_at, supplier_status_born,
                             supplier_status_rank, attempts, created_at, updated_at)
         SELECT 'stale-' || s, 'COMPLETED', '{"sku":"SKU-1","quantity":1}'::jsonb, s, 'waitbuyerreceive', to_timestamp(a / 1000.0), a, 30, 1,
                to_timestamp(a / 1000.0), to_timestamp(a / 1000.0)
         FROM unnest($1::text[], $2::bigint[]) AS i(s, a)`,
        [ids, at],
      );
      fake.addOrders(ids.map((id, i) => ({ id, status: 'waitbuyerreceive', createTime: now - 3 * 86_400_000, modifyTime: at[i] })));
      for (const id of ids.slice(2)) fake.setOrderStatus(id, 'confirm_goods', { modifyTime: now - 2 * 86_400_000 + 3_600_000 });
      const statuses = async () =>
        (
          await stale.db.query(`SELECT supplier_order_id, supplier_status FROM orders WHERE supplier_order_id = ANY($1::text[])`, [ids])
        ).rows.reduce((all: Record<string, string>, row: { supplier_order_id: string; supplier_status: string }) => {
          all[row.supplier_order_id] = row.supplier_status;
          return all;
        }, {});
      let staleRead = 0;
      let repaired = 0;
      for (let sweep = 0; sweep < 3; sweep++) {
        const before = await lastRunId('sweep', stale);
        await runNow(stale);
        const run = await finished('sweep', before, stale);
        expect(run.outcome).toBe('ok');
        staleRead += run.counts.staleRead;
        // Let this sweep's repairs land before the next one chooses.
        repaired += run.counts.drifted;
        await eventually(
          async () => (Object.values(await statuses()).filter((s) => s === 'confirm_goods').length >= repaired ? true : undefined),
          15_000,
          'the repairs applied',
        );
      }
      expect(staleRead).toBe(6);
      expect(await statuses()).toEqual({
        [ids[0]]: 'waitbuyerreceive',
        [ids[1]]: 'waitbuyerreceive',
        [ids[2]]: 'confirm_goods',
        [ids[3]]: 'confirm_goods',
        [ids[4]]: 'confirm_goods',
      });
    } finally {
      await stale.stop();
    }
  });

  it('refreshes an expired access token, and reports a token it cannot refresh without dying', async () => {
    fake.expireTokens();
    const before = await lastRunId('sweep');
    await runNow();
    expect(await finished('sweep', before)).toMatchObject({ outcome: 'ok' });
    expect(fake.tokenRefreshes()).toBeGreaterThanOrEqual(1);

    const noRefresh = await startTestService(
      'reconcile_badtoken',
      syncEnv({ ALIBABA_ACCESS_TOKEN: 'a-token-1688-never-issued', ALIBABA_REFRESH_TOKEN: '' }),
    );
    try {
      await runNow(noRefresh);
      const run = await finished('sweep', 0, noRefresh);
      expect(run).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/ALIBABA_REFRESH_TOKEN|token/) });
      expect((await api(noRefresh.baseUrl, 'GET', '/health/live', undefined, null)).status).toBe(200);
      // The pull needs no token: it still works.
      expect(await finished('pull', 0, noRefresh)).toMatchObject({ outcome: 'ok' });
    } finally {
      await noRefresh.stop();
    }
  });
});

describe('the fleet', () => {
  it('never runs two sweeps at once, however many instances ask', async () => {
    const other = await startTestService('reconcile_other', {
      ...syncEnv(),
      DATABASE_URL: t.config.databaseUrl,
      QUEUE_PREFIX: t.config.queuePrefix,
    });
    try {
      fake.configure({ latencyMs: 30 });
      const before = await lastRunId('sweep');
      await Promise.all([runNow(), runNow(other), runNow(), runNow(other)]);
      await eventually(
        async () => {
          const { rows } = await t.db.query(
            `SELECT count(*)::int AS n FROM sync_runs WHERE kind = 'sweep' AND id > $1 AND finished_at IS NOT NULL`,
            [before],
          );
          return rows[0].n >= 4 ? true : undefined;
        },
        60_000,
        'four sweeps',
      );
      const { rows } = await t.db.query(
        `SELECT started_at, finished_at FROM sync_runs WHERE kind = 'sweep' AND id > $1 ORDER BY started_at`,
        [before],
      );
      for (let i = 1; i < rows.length; i++) expect(rows[i].started_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].finished_at.getTime());
    } finally {
      await other.stop();
    }
  });

  it('shows the newest push and the last runs on GET /reconciliation; POST /reconciliation/run needs an admin key', async () => {
    await push1688(t.baseUrl, orderMessage({ msgId: 990300, orderId: '268000000000000300', status: 'waitbuyerpay' }));
    const view = await eventually(async () => {
      const body = (await api(t.baseUrl, 'GET', '/reconciliation')).body;
      return body.newestPushAgeMs !== null && body.newestPushAgeMs < 10_000 ? body : undefined;
    });
    expect(view).toMatchObject({ enabled: true, pull: { watermark: expect.any(String) }, sweep: { watermark: expect.any(String) } });
    expect((await api(t.baseUrl, 'POST', '/reconciliation/run', {})).status).toBe(403);
    expect((await api(t.baseUrl, 'GET', '/reconciliation', undefined, null)).status).toBe(401);
  });
});
