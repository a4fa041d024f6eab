import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxRetention } from '../src/orders/inbox-retention.js';
import { api, orderMessage, push1688 } from './support/http.js';
import { eventually, startTestService, type TestService } from './support/service.js';

/** The inbox (the lasting dedupe of message ids) is kept INBOX_RETENTION_DAYS, no longer. */
let t: TestService;
let keepAll: TestService;

beforeAll(async () => {
  [t, keepAll] = await Promise.all([
    startTestService('inbox_retention', { INBOX_RETENTION_DAYS: '30', DISPATCH_ENABLED: 'false' }),
    startTestService('inbox_keep_all', { INBOX_RETENTION_DAYS: '0', DISPATCH_ENABLED: 'false' }),
  ]);
});
afterAll(async () => {
  await Promise.all([t?.stop(), keepAll?.stop()]);
});

/** `count` inbox rows received `days` ago, message ids from `first`. */
async function seed(service: TestService, first: number, count: number, days: number): Promise<void> {
  await service.db.query(
    `INSERT INTO inbox_messages (source, message_id, topic, body, received_at, outcome)
     SELECT '1688', ($1::int + g)::text, 'ORDER_X', '{}', now() - make_interval(days => $3::int), 'applied'
     FROM generate_series(0, $2::int - 1) g`,
    [first, count, days],
  );
}

async function inboxCount(service: TestService, where = 'true'): Promise<number> {
  const { rows } = await service.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM inbox_messages WHERE ${where}`);
  return rows[0]?.n ?? 0;
}

describe('inbox retention', () => {
  it('builds its index by arrival time at start, concurrently, and valid', async () => {
    await eventually(async () => {
      const { rows } = await t.db.query<{ valid: boolean; def: string }>(
        `SELECT i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'inbox_messages_received_at_idx'`,
      );
      return rows[0]?.valid ? rows[0].def : undefined;
    });
    // The service with retention off never builds it.
    const { rows } = await keepAll.db.query(`SELECT 1 FROM pg_class WHERE relname = 'inbox_messages_received_at_idx'`);
    expect(rows).toEqual([]);
  });

  it('deletes rows older than INBOX_RETENTION_DAYS in batches and keeps the younger ones', async () => {
    await seed(t, 1, 12_000, 45); // more than two batches of 5,000
    await seed(t, 100_000, 300, 29);
    await t.service.app.get(InboxRetention).deleteExpired();
    expect(await inboxCount(t, `received_at < now() - interval '30 days'`)).toBe(0);
    expect(await inboxCount(t)).toBe(300);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ordersync_inbox_expired_total 12000$/m);
  });

  it('deletes each row once when workers run at the same time', async () => {
    await seed(t, 200_000, 9_000, 60);
    const retention = t.service.app.get(InboxRetention);
    await Promise.all([retention.deleteExpired(), retention.deleteExpired(), retention.deleteExpired()]);
    // The rounds are done when they resolve: nothing else deletes, so no polling.
    expect(await inboxCount(t, `received_at < now() - interval '30 days'`)).toBe(0);
    expect(await inboxCount(t)).toBe(300);
    // Every row deleted and counted exactly once across the three rounds (12,000 before, 9,000 now).
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ordersync_inbox_expired_total 21000$/m);
  });

  it('a message re-sent after the inbox forgot it changes no status: a status never moves back', async () => {
    const supplierOrderId = '167539019420541234';
    const at = Date.now() - 3_600_000;
    const older = orderMessage({ msgId: 88001, orderId: supplierOrderId, status: 'waitsellersend', gmtBorn: at });
    const newer = orderMessage({ msgId: 88002, orderId: supplierOrderId, status: 'waitbuyerreceive', gmtBorn: at + 60_000 });
    expect((await push1688(t.baseUrl, older)).status).toBe(200);
    expect((await push1688(t.baseUrl, newer)).status).toBe(200);
    const status = async () => (await api(t.baseUrl, 'GET', `/orders/1688-${supplierOrderId}`)).body?.supplierStatus as string | undefined;
    await eventually(async () => ((await status()) === 'waitbuyerreceive' ? true : undefined));
    // Both messages age past the retention and are forgotten...
    await t.db.query(`UPDATE inbox_messages SET received_at = now() - interval '45 days' WHERE message_id IN ('88001', '88002')`);
    await t.service.app.get(InboxRetention).deleteExpired();
    expect(await inboxCount(t, `message_id IN ('88001', '88002')`)).toBe(0);
    // ...then 1688 offers the older one again: applied as new, it is older than the status held.
    expect((await push1688(t.baseUrl, older)).status).toBe(200);
    await eventually(async () => ((await inboxCount(t, `message_id = '88001'`)) === 1 ? true : undefined));
    expect(await status()).toBe('waitbuyerreceive');
  });

  it('keeps everything with INBOX_RETENTION_DAYS=0', async () => {
    await seed(keepAll, 1, 100, 400);
    await keepAll.service.app.get(InboxRetention).deleteExpired();
    expect(await inboxCount(keepAll)).toBe(100);
  });
});
