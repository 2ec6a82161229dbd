import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER, subUnits } from './algorithm.interface.js';

/**
 * Tokens at time `ts`, as `n` integer sub-units of which `per` make one token (see `subUnits`).
 * Capacity `limit`, refilled by `limit` per window; no state means full. `per` is kept so that a
 * rule whose limit or window changes reads its old state in the new units.
 */
export interface TokenBucketState {
  n: number;
  per: number;
  ts: number;
}

/** The tokens refilled to `now`, and their time. */
function levelAt(
  state: TokenBucketState | undefined,
  now: number,
  per: number,
  rate: number,
  capacity: number,
) {
  if (state === undefined) return { n: capacity, ts: now };
  // Rounded down: a changed rule never gains a fraction of a token from the conversion.
  const stored = state.per === per ? state.n : Math.floor((state.n * per) / state.per);
  const n = Math.min(capacity, stored + Math.max(0, now - state.ts) * rate);
  return { n, ts: Math.max(state.ts, now) };
}

export const tokenBucket: AlgorithmImpl<TokenBucketState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const { per, rate } = subUnits(limit, windowMs);
    const capacity = limit * per;
    const { n, ts } = levelAt(state, now, per, rate, capacity);
    const need = cost * per;
    const allowed = cost <= limit && n >= need;
    const kept = allowed ? n - need : n;
    const toFull = Math.ceil((capacity - kept) / rate);
    // Above 0 only when the clock went back: the count is as of `ts` and refills from there.
    const ahead = ts - now;
    return {
      allowed,
      remaining: Math.floor(kept / per),
      resetAtMs: ts + toFull,
      retryAfterMs:
        cost > limit ? NEVER : allowed ? 0 : Math.max(1, ahead + Math.ceil((need - n) / rate)),
      next: cost === 0 ? state : { n: kept, per, ts },
      ttlMs: Math.max(1, ahead + toFull),
    };
  },

  // The charge's tokens back, never above the capacity.
  refund(state, { limit, windowMs, cost, now }) {
    const { per, rate } = subUnits(limit, windowMs);
    const capacity = limit * per;
    const { n, ts } = levelAt(state, now, per, rate, capacity);
    if (n === capacity) return undefined;
    const kept = Math.min(capacity, n + cost * per);
    const ttlMs = Math.max(1, ts - now + Math.ceil((capacity - kept) / rate));
    return { next: { n: kept, per, ts }, ttlMs };
  },
};
