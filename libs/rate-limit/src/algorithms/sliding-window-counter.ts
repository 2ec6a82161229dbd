import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER } from './algorithm.interface.js';

/** Units in the current aligned window and in the one before; the previous one is weighted by how much of it still overlaps. */
export interface SlidingCounterState {
  start: number;
  curr: number;
  prev: number;
}

/** Smallest offset into a window at which floor(prev * (w - e) / w) <= room. */
function earliestOffset(prev: number, room: number, windowMs: number): number {
  if (prev === 0) return 0;
  return Math.max(0, windowMs - Math.ceil(((room + 1) * windowMs) / prev) + 1);
}

export const slidingWindowCounter: AlgorithmImpl<SlidingCounterState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const aligned = now - (now % windowMs);
    let start = aligned;
    let curr = 0;
    let prev = 0;
    if (state !== undefined) {
      if (state.start >= aligned) {
        ({ start, curr, prev } = state);
      } else if (state.start === aligned - windowMs) {
        prev = state.curr;
      }
    }
    const elapsed = Math.max(0, now - start);
    const weighted = Math.floor((prev * (windowMs - elapsed)) / windowMs);
    const allowed = cost <= limit && weighted + curr + cost <= limit;
    if (allowed) curr += cost;
    let retryAfterMs = 0;
    if (cost > limit) {
      retryAfterMs = NEVER;
    } else if (!allowed) {
      const room = limit - curr - cost;
      retryAfterMs =
        room >= 0
          ? start + earliestOffset(prev, room, windowMs) - now
          : start + windowMs + earliestOffset(curr, limit - cost, windowMs) - now;
      retryAfterMs = Math.max(1, retryAfterMs);
    }
    const resetAtMs = curr > 0 ? start + 2 * windowMs : prev > 0 ? start + windowMs : now;
    return {
      allowed,
      remaining: Math.max(0, limit - weighted - curr),
      resetAtMs,
      retryAfterMs,
      next: cost === 0 ? state : { start, curr, prev },
      ttlMs: Math.max(1, start + 2 * windowMs - now),
    };
  },

  // Back to the window the charge was counted in, current or previous.
  refund(state, { windowMs, cost, chargedAt }) {
    if (state === undefined) return undefined;
    const { start, curr, prev } = state;
    if (chargedAt >= start && chargedAt < start + windowMs) {
      return { next: { start, curr: Math.max(0, curr - cost), prev } };
    }
    if (chargedAt >= start - windowMs && chargedAt < start) {
      return { next: { start, curr, prev: Math.max(0, prev - cost) } };
    }
    return undefined;
  },
};
