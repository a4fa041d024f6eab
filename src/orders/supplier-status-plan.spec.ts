import { describe, expect, it } from 'vitest';
import { planSupplierUpdates, type IncomingChange } from './supplier-status-plan.js';

const change = (messageId: string, status: string | null, occurredAt: number, orderId = 'A'): IncomingChange => ({
  orderId,
  source: '1688',
  messageId,
  topic: 'ORDER_X',
  status,
  occurredAt,
  bornAt: occurredAt,
});

describe('planSupplierUpdates', () => {
  it('ends with the newest status whatever the arrival order, history in supplier time', () => {
    const plan = planSupplierUpdates(new Map(), [
      change('3', 'success', 3000),
      change('1', 'waitbuyerpay', 1000),
      change('2', 'waitsellersend', 2000),
    ]);
    expect(plan.updates).toEqual([{ orderId: 'A', status: 'success', stamp: { occurredAt: 3000, bornAt: 3000, rank: 50 } }]);
    expect(plan.events.map((e) => [e.messageId, e.outcome])).toEqual([
      ['1', 'applied'],
      ['2', 'applied'],
      ['3', 'applied'],
    ]);
  });

  it('keeps an older message in history but never lets it overwrite a newer stored status', () => {
    const current = new Map([['A', { orderId: 'A', status: 'success', stamp: { occurredAt: 5000, bornAt: 5000, rank: 50 } }]]);
    const plan = planSupplierUpdates(current, [change('1', 'waitsellersend', 1000)]);
    expect(plan.updates).toEqual([]);
    expect(plan.events[0]).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/older than the current status success/) });
  });

  it('records a message without a status as ignored, per order', () => {
    const plan = planSupplierUpdates(new Map(), [change('1', null, 1000), change('2', 'cancel', 1000, 'B')]);
    expect(plan.events.map((e) => [e.orderId, e.outcome])).toEqual([
      ['A', 'ignored'],
      ['B', 'applied'],
    ]);
    expect(plan.updates.map((u) => u.orderId)).toEqual(['B']);
  });
});
