import { isNewerStatus, lifecycleRank, type StatusStamp } from './supplier-status.js';

export interface CurrentSupplierStatus {
  orderId: string;
  status: string | null;
  stamp: StatusStamp | null;
}

export interface IncomingChange {
  orderId: string;
  source: string;
  messageId: string;
  topic: string;
  status: string | null;
  occurredAt: number;
  bornAt: number;
}

export interface PlannedEvent extends IncomingChange {
  outcome: 'applied' | 'ignored';
  reason: string | null;
}

export interface PlannedUpdate {
  orderId: string;
  status: string;
  stamp: StatusStamp;
}

/**
 * Decides, for a batch of changes, which ones move each order's supplier status and which are
 * kept in history only. Changes are replayed per order in supplier time, so the history reads
 * as it happened at the supplier and the newest status wins whatever the arrival order.
 */
export function planSupplierUpdates(
  current: Map<string, CurrentSupplierStatus>,
  changes: IncomingChange[],
): { events: PlannedEvent[]; updates: PlannedUpdate[] } {
  const stampOf = (change: IncomingChange): StatusStamp => ({
    occurredAt: change.occurredAt,
    bornAt: change.bornAt,
    rank: lifecycleRank(change.status),
  });
  const ordered = [...changes].sort((a, b) => {
    if (a.orderId !== b.orderId) return a.orderId < b.orderId ? -1 : 1;
    const sa = stampOf(a);
    const sb = stampOf(b);
    return sa.occurredAt - sb.occurredAt || sa.bornAt - sb.bornAt || sa.rank - sb.rank;
  });

  const latest = new Map<string, { status: string | null; stamp: StatusStamp | null }>();
  const updates = new Map<string, PlannedUpdate>();
  const events: PlannedEvent[] = [];
  for (const change of ordered) {
    const known = latest.get(change.orderId) ?? current.get(change.orderId) ?? { status: null, stamp: null };
    if (change.status === null) {
      events.push({ ...change, outcome: 'ignored', reason: 'message names no status' });
      continue;
    }
    const stamp = stampOf(change);
    if (!isNewerStatus(stamp, known.stamp)) {
      const when = known.stamp ? new Date(known.stamp.occurredAt).toISOString() : 'unknown';
      events.push({ ...change, outcome: 'ignored', reason: `older than the current status ${known.status} (changed ${when})` });
      continue;
    }
    latest.set(change.orderId, { status: change.status, stamp });
    updates.set(change.orderId, { orderId: change.orderId, status: change.status, stamp });
    events.push({ ...change, outcome: 'applied', reason: null });
  }
  return { events, updates: [...updates.values()] };
}
