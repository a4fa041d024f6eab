import { isLosslessNumber } from '../common/lossless-json.js';

/**
 * A part of the sweep's window: the orders modified in the window whose creation time is within
 * [createStart, createEnd] (either end open when absent), read from `firstPage` on, one page
 * after another.
 */
export interface Slice {
  createStart?: number;
  createEnd?: number;
  firstPage: number;
}

/** What one page of getBuyerOrderList gave: its orders, the total the answer gave (null when none or not believable), the first order's creation time. */
export interface PageRead {
  length: number;
  total: number | null;
  firstCreatedAt: number | null;
}

/**
 * How many calls to keep in flight: at `limitPerSecond` a call answered in `answerMs` keeps
 * limit × answer time of them busy, plus one for the time between an answer and the next call
 * (comparing the page). One when nothing is measured yet; never more than `useful` or `max`.
 */
export function lanesFor(limitPerSecond: number, answerMs: number | null, useful: number, max: number): number {
  const wanted = answerMs === null || !Number.isFinite(answerMs) ? 1 : Math.ceil((limitPerSecond * answerMs) / 1000) + 1;
  return Math.max(1, Math.min(max, Math.floor(useful), wanted));
}

/**
 * The pages of the whole window whose first orders' creation times cut it into `lanes` slices
 * of about the same number of pages (page 1 is already read: it starts the newest slice).
 */
export function edgePages(pages: number, lanes: number): number[] {
  return Array.from({ length: lanes - 1 }, (_, i) => 1 + Math.round(((i + 1) * pages) / lanes));
}

/**
 * Slices covering every creation time, given creation times found at the start of pages of the
 * whole window (`edges`, in any order). The newest slice, [newest edge, open), goes on from page
 * 2 of the whole window's page 1: the list is sorted by creation time, newest first, so the
 * orders created at or after an edge are the list's first ones, at the same places as in the
 * whole list. Each older slice ends EDGE_OVERLAP_MS after the edge above it begins, and the
 * oldest has no start: orders created long before the window (modified in it) are in it.
 */
export function slicesFromEdges(edges: readonly number[], overlapMs: number): Slice[] {
  const sorted = [...new Set(edges.filter((edge) => Number.isSafeInteger(edge)))].sort((a, b) => b - a);
  if (sorted.length === 0) return [{ firstPage: 2 }];
  const slices: Slice[] = [{ createStart: sorted[0], firstPage: 2 }];
  for (let i = 1; i < sorted.length; i++) slices.push({ createStart: sorted[i], createEnd: sorted[i - 1] + overlapMs, firstPage: 1 });
  slices.push({ createEnd: sorted[sorted.length - 1] + overlapMs, firstPage: 1 });
  return slices;
}

/**
 * Whether `page` was a slice's last: a short page, or the pages read so far hold the total the
 * answer gave (no empty page after a full last one). A total below what this very answer shows
 * is not believed (readPage gives null then), and the short page decides.
 */
export function isLastPage(page: number, pageSize: number, read: PageRead): boolean {
  return read.length < pageSize || (read.total !== null && page * pageSize >= read.total);
}

/** totalRecord as a count, or null when the answer has none or a value that is not one. */
export function totalRecordOf(value: unknown): number | null {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,15}$/.test(value.trim())
        ? Number(value)
        : isLosslessNumber(value)
          ? Number(value.value)
          : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Runs `tasks` with at most `lanes` at once, in order of the list; their results in the same
 * order. The first failure stops the others (their signal aborts with it) and is thrown once
 * every task begun has settled, so that nothing runs on after the caller has its answer.
 */
export async function inLanes<T>(
  tasks: readonly ((signal: AbortSignal) => Promise<T>)[],
  lanes: number,
  outer?: AbortSignal,
): Promise<T[]> {
  const controller = new AbortController();
  const stop = () => controller.abort(outer?.reason);
  if (outer?.aborted) stop();
  else outer?.addEventListener('abort', stop, { once: true });
  const results = new Array<T>(tasks.length);
  const state: { next: number; failed: boolean; error: unknown } = { next: 0, failed: false, error: undefined };
  const lane = async (): Promise<void> => {
    while (!state.failed && !controller.signal.aborted && state.next < tasks.length) {
      const i = state.next++;
      try {
        results[i] = await tasks[i](controller.signal);
      } catch (error) {
        if (!state.failed) {
          state.failed = true;
          state.error = error;
          controller.abort(error);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, tasks.length)) }, lane));
  } finally {
    outer?.removeEventListener('abort', stop);
  }
  if (state.failed) throw state.error;
  outer?.throwIfAborted();
  return results;
}
