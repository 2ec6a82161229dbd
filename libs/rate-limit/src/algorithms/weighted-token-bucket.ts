import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER } from './algorithm.interface.js';

/**
 * One budget shared by priority classes, in sub-units (see `lua/algorithms/weighted-token-bucket.lua`
 * for the model): each class's reserve `own`, the common `pool`, as of `ts`; `per` sub-units make
 * one token when written. No state means every reserve full.
 */
export interface WeightedTokenBucketState {
  own: Record<string, number>;
  pool: number;
  per: number;
  ts: number;
}

/** The classes and their weights (sorted by class name), and the class of this request. */
export interface ShareInput {
  weights: ReadonlyArray<readonly [string, number]>;
  cls: string;
}

/** Without classes: one class holding the whole budget, which is a token bucket. */
const ONE_CLASS: ShareInput = { weights: [['all', 1]], cls: 'all' };

const gcd = (a: number, b: number): number => {
  while (b > 0) [a, b] = [b, a % b];
  return a;
};

/** The Lua script's `shares` argument for these weights and class. @internal */
export function encodeShares({ weights, cls }: ShareInput): string {
  return `${weights.map(([name, weight]) => `${name}=${weight}`).join(',')}|${cls}`;
}

export const weightedTokenBucket: AlgorithmImpl<WeightedTokenBucketState> = {
  decide(state, { limit, windowMs, cost, now, share }) {
    const { weights, cls } = share ?? ONE_CLASS;
    let totalWeight = 0;
    for (const [, weight] of weights) totalWeight += weight;
    const weightOf = weights.find(([name]) => name === cls)?.[1];
    if (weightOf === undefined) throw new Error(`weighted-token-bucket: unknown class ${cls}`);
    const g = gcd(limit, windowMs);
    const per = (totalWeight * windowMs) / g;
    const unitRate = limit / g;
    const total = limit * per;

    const own: Record<string, number> = {};
    let pool = 0;
    let ts = now;
    if (state !== undefined) {
      // Rounded down: a changed rule never gains a fraction of a token from the conversion.
      const scale = (n: number) => (state.per === per ? n : Math.floor((n * per) / state.per));
      const elapsed = Math.max(0, now - state.ts);
      ts = Math.max(state.ts, now);
      let spill = 0;
      let held = 0;
      for (const [name, weight] of weights) {
        const cap = unitRate * weight * windowMs;
        let n = scale(state.own[name] ?? 0) + elapsed * unitRate * weight;
        if (n > cap) {
          spill += n - cap;
          n = cap;
        }
        own[name] = n;
        held += n;
      }
      pool = Math.min(total - held, scale(state.pool) + spill);
    } else {
      for (const [name, weight] of weights) own[name] = unitRate * weight * windowMs;
    }

    const need = cost * per;
    const available = own[cls] + pool;
    const allowed = cost <= limit && available >= need;
    if (allowed) {
      const fromOwn = Math.min(own[cls], need);
      own[cls] -= fromOwn;
      pool -= need - fromOwn;
    }
    let held = pool;
    for (const [name] of weights) held += own[name];
    const toFull = Math.ceil((total - held) / (unitRate * totalWeight));
    const ahead = ts - now;
    return {
      allowed,
      remaining: Math.floor((own[cls] + pool) / per),
      resetAtMs: ts + toFull,
      retryAfterMs:
        cost > limit
          ? NEVER
          : allowed
            ? 0
            : Math.max(1, ahead + Math.ceil((need - available) / (unitRate * weightOf))),
      next: cost === 0 ? state : { own, pool, per, ts },
      ttlMs: Math.max(1, ahead + toFull),
    };
  },
};
