/**
 * Ordering of supplier status changes. 1688 delivers late and out of order, so a change wins
 * only when it happened later at the supplier: by msgSendTime, then gmtBorn, then (for two
 * changes stamped the same instant) by how far along the lifecycle the status is.
 */
const LIFECYCLE: Record<string, number> = {
  waitbuyerpay: 10,
  waitsellersend: 20,
  waitbuyerreceive: 30,
  confirm_goods: 40,
  confirm_goods_and_has_subsidy: 40,
  success: 50,
  cancel: 60,
  terminated: 60,
};

/** Statuses 1688 may add later still order after the known ones they follow; unknown ones rank 0. */
export function lifecycleRank(status: string | null): number {
  if (status === null) return 0;
  return LIFECYCLE[status.toLowerCase()] ?? 0;
}

export interface StatusStamp {
  occurredAt: number;
  bornAt: number;
  rank: number;
}

/** True when `candidate` should replace `current`; an equal stamp does not (first one kept). */
export function isNewerStatus(candidate: StatusStamp, current: StatusStamp | null): boolean {
  if (current === null) return true;
  if (candidate.occurredAt !== current.occurredAt) return candidate.occurredAt > current.occurredAt;
  if (candidate.bornAt !== current.bornAt) return candidate.bornAt > current.bornAt;
  return candidate.rank > current.rank;
}
