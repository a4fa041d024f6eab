import { describe, expect, it } from 'vitest';
import { isNewerStatus, lifecycleRank } from './supplier-status.js';

describe('isNewerStatus', () => {
  const at = (occurredAt: number, bornAt = 0, rank = 0) => ({ occurredAt, bornAt, rank });

  it('takes anything over no status', () => {
    expect(isNewerStatus(at(1), null)).toBe(true);
  });
  it('orders by the time of the change first, whatever the gmtBorn', () => {
    expect(isNewerStatus(at(2000, 1), at(1000, 9))).toBe(true);
    expect(isNewerStatus(at(1000, 9), at(2000, 1))).toBe(false);
  });
  it('breaks a tie on the change time with gmtBorn', () => {
    expect(isNewerStatus(at(1000, 5), at(1000, 4))).toBe(true);
    expect(isNewerStatus(at(1000, 4), at(1000, 5))).toBe(false);
  });
  it('breaks a full tie with the lifecycle, and keeps the first of equals', () => {
    expect(isNewerStatus(at(1000, 5, lifecycleRank('success')), at(1000, 5, lifecycleRank('waitbuyerreceive')))).toBe(true);
    expect(isNewerStatus(at(1000, 5, 20), at(1000, 5, 20))).toBe(false);
  });
});

describe('lifecycleRank', () => {
  it('follows the 1688 lifecycle and keeps unknown statuses at 0', () => {
    const ranks = ['waitbuyerpay', 'waitsellersend', 'waitbuyerreceive', 'confirm_goods', 'success'].map(lifecycleRank);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
    expect(lifecycleRank('cancel')).toBeGreaterThan(lifecycleRank('success'));
    expect(lifecycleRank('some_new_refund_state')).toBe(0);
    expect(lifecycleRank(null)).toBe(0);
  });
});
