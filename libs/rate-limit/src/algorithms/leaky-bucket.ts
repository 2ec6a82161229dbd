import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER, subUnits } from './algorithm.interface.js';

/**
 * Level of the bucket at time `ts`, as `n` integer sub-units of which `per` make one unit (see
 * `subUnits`). Holds up to `limit`, drains `limit` per window; no state means empty. `per` is kept
 * so that a rule whose limit or window changes reads its old state in the new units.
 */
export interface LeakyBucketState {
  n: number;
  per: number;
  ts: number;
}

export const leakyBucket: AlgorithmImpl<LeakyBucketState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const { per, rate } = subUnits(limit, windowMs);
    const capacity = limit * per;
    let n = 0;
    let ts = now;
    if (state !== undefined) {
      // Rounded up: a changed rule never loses a fraction of a unit it is owed.
      const stored = state.per === per ? state.n : Math.ceil((state.n * per) / state.per);
      n = Math.max(0, stored - Math.max(0, now - state.ts) * rate);
      ts = Math.max(state.ts, now);
    }
    const need = cost * per;
    const allowed = cost <= limit && n + need <= capacity;
    const kept = allowed ? n + need : n;
    const toEmpty = Math.ceil(kept / rate);
    // Above 0 only when the clock went back: the level is as of `ts` and drains from there.
    const ahead = ts - now;
    return {
      allowed,
      // A limit lowered below the level leaves nothing, not a negative count.
      remaining: Math.max(0, Math.floor((capacity - kept) / per)),
      resetAtMs: ts + toEmpty,
      retryAfterMs:
        cost > limit
          ? NEVER
          : allowed
            ? 0
            : Math.max(1, ahead + Math.ceil((n + need - capacity) / rate)),
      next: cost === 0 ? state : { n: kept, per, ts },
      ttlMs: Math.max(1, ahead + toEmpty),
    };
  },
};
