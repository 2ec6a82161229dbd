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

/** The level drained to `now`, and its time. */
function levelAt(state: LeakyBucketState | undefined, now: number, per: number, rate: number) {
  if (state === undefined) return { n: 0, ts: now };
  // Rounded up: a changed rule never loses a fraction of a unit it is owed.
  const stored = state.per === per ? state.n : Math.ceil((state.n * per) / state.per);
  return {
    n: Math.max(0, stored - Math.max(0, now - state.ts) * rate),
    ts: Math.max(state.ts, now),
  };
}

/**
 * With `maxDelayMs` the level may pass `limit` by what drains in that time: a request admitted
 * above `limit` waits in the queue, and proceeds after the `retryAfterMs` answered with it,
 * when the level is back at `limit`.
 */
export const leakyBucket: AlgorithmImpl<LeakyBucketState> = {
  decide(state, { limit, windowMs, cost, now, maxDelayMs = 0 }) {
    const { per, rate } = subUnits(limit, windowMs);
    const capacity = limit * per;
    const { n, ts } = levelAt(state, now, per, rate);
    const slack = maxDelayMs * rate;
    const need = cost * per;
    const allowed = cost <= limit && n + need <= capacity + slack;
    const kept = allowed ? n + need : n;
    const toEmpty = Math.ceil(kept / rate);
    // Above 0 only when the clock went back: the level is as of `ts` and drains from there.
    const ahead = ts - now;
    const wait = cost > 0 && kept > capacity ? ahead + Math.ceil((kept - capacity) / rate) : 0;
    return {
      allowed,
      // A limit lowered below the level leaves nothing, not a negative count.
      remaining: Math.max(0, Math.floor((capacity - kept) / per)),
      resetAtMs: ts + toEmpty,
      retryAfterMs:
        cost > limit
          ? NEVER
          : allowed
            ? wait
            : Math.max(1, ahead + Math.ceil((n + need - capacity - slack) / rate)),
      next: cost === 0 ? state : { n: kept, per, ts },
      ttlMs: Math.max(1, ahead + toEmpty),
    };
  },

  refund(state, { limit, windowMs, cost, now }) {
    const { per, rate } = subUnits(limit, windowMs);
    const { n, ts } = levelAt(state, now, per, rate);
    if (n === 0) return undefined;
    const kept = Math.max(0, n - cost * per);
    return { next: { n: kept, per, ts }, ttlMs: Math.max(1, ts - now + Math.ceil(kept / rate)) };
  },
};
