import type { ShareInput } from './weighted-token-bucket.js';

/**
 * Pure reference algorithms: state in, decision and next state out, time injected.
 * `lua/algorithms/*.lua` implement the same arithmetic in the same order, so that a
 * sequence of (time, cost) gives identical decisions in memory and in Redis.
 * @internal
 */
export interface AlgorithmInput {
  limit: number;
  windowMs: number;
  cost: number;
  /** Epoch ms. */
  now: number;
  /** Identifies a concurrency lease; unused by other algorithms. */
  leaseId?: string;
  /** The classes and weights of a weighted token bucket, and the request's class. */
  share?: ShareInput;
  /** Leaky bucket and GCRA: the longest a request may be held for its slot (ms); 0 none. */
  maxDelayMs?: number;
}

/** What a refund is given: the charge to undo and the time it was decided at. */
export interface RefundInput extends AlgorithmInput {
  chargedAt: number;
}

/** The state after a refund; `ttlMs` omitted: the state keeps its expiry (as Lua's HSET does). */
export interface RefundResult<S> {
  next: S;
  ttlMs?: number;
}

export interface AlgorithmResult<S> {
  allowed: boolean;
  remaining: number;
  resetAtMs: number;
  /** Denied: -1 when the cost can never be admitted. Allowed: the wait for a shaped slot, else 0. */
  retryAfterMs: number;
  /**
   * The state to keep if the request is charged (all rules admitted it). A cost of 0 is a pure
   * look: `next` is the state given, unchanged (`undefined` stays no state).
   */
  next: S | undefined;
  /** How long `next` matters; after that it is equivalent to no state. */
  ttlMs: number;
  /** State to keep even when not charged (expired entries dropped); `undefined`: leave as is. */
  cleaned?: S;
}

export interface AlgorithmImpl<S> {
  decide(state: S | undefined, input: AlgorithmInput): AlgorithmResult<S>;
  /**
   * Undoes one admitted charge of `input.cost` (see `RateLimitStore.refund`); `undefined`:
   * nothing to change. Absent for algorithms without a refund.
   */
  refund?(state: S | undefined, input: RefundInput): RefundResult<S> | undefined;
}

/** A denial that no wait can turn into an admission: the cost is above the limit. */
export const NEVER = -1;

/**
 * Integer units for the refilling algorithms: one request unit is `per` sub-units and `rate`
 * sub-units drain (or refill) per ms, so that per / rate = windowMs / limit exactly. Fractional
 * tokens kept as floats drift (a drained bucket could answer 1 ms late or deny a request that
 * had refilled); integers below 2^53 are exact, which covers every limit x window whose
 * product over their gcd stays below 2^53 (1e9 per 31 days does).
 */
export function subUnits(limit: number, windowMs: number): { per: number; rate: number } {
  let a = limit;
  let b = windowMs;
  while (b > 0) [a, b] = [b, a % b];
  return { per: windowMs / a, rate: limit / a };
}
