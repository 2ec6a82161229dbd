import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER } from './algorithm.interface.js';

/** Window start and units used in it. Windows are aligned to the epoch (a 1 m window starts at a whole minute). */
export interface FixedWindowState {
  start: number;
  count: number;
}

export const fixedWindow: AlgorithmImpl<FixedWindowState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const aligned = now - (now % windowMs);
    // A clock that went back keeps the later window rather than granting a fresh one.
    const fresh = state === undefined || state.start < aligned;
    const start = fresh ? aligned : state.start;
    const count = fresh ? 0 : state.count;
    const resetAtMs = start + windowMs;
    const ttlMs = Math.max(1, resetAtMs - now);
    // A limit lowered below what was used leaves nothing, not a negative count.
    const left = (used: number) => Math.max(0, limit - used);
    if (cost > limit) {
      return {
        allowed: false,
        remaining: left(count),
        resetAtMs,
        retryAfterMs: NEVER,
        next: { start, count },
        ttlMs,
      };
    }
    const allowed = count + cost <= limit;
    const used = allowed ? count + cost : count;
    return {
      allowed,
      remaining: left(used),
      resetAtMs,
      retryAfterMs: allowed ? 0 : Math.max(1, resetAtMs - now),
      next: cost === 0 ? state : { start, count: used },
      ttlMs,
    };
  },

  // Back to the window the charge was made in; a window that has ended took it with it.
  refund(state, { windowMs, cost, chargedAt }) {
    if (state === undefined || chargedAt < state.start || chargedAt >= state.start + windowMs) {
      return undefined;
    }
    return { next: { start: state.start, count: Math.max(0, state.count - cost) } };
  },
};
