import type { ShareInput } from '../algorithms/weighted-token-bucket.js';
import type { Algorithm } from '../interfaces/index.js';

/** One rule's share of a store call. @publicApi */
export interface RuleCall {
  /** Full state key (see `stateKey`). */
  key: string;
  algorithm: Algorithm;
  limit: number;
  windowMs: number;
  cost: number;
  /** `false` for a dry-run rule: reported, never blocking. */
  enforce: boolean;
  /** Concurrency lease id. */
  leaseId?: string;
  /** Weighted token bucket: the classes, their weights and the request's class. */
  share?: ShareInput;
  /** A denial keeps the caller denied this long (ms); omitted or 0: no block. */
  blockMs?: number;
  /** Leaky bucket and GCRA: the longest a request may be held for its slot (ms). */
  maxDelayMs?: number;
  /** Charges of this rule may be refunded (`count`, `maxDelay`): its denials can end early. */
  refundable?: boolean;
}

/** One rule's raw answer from a store. Times are epoch ms. @publicApi */
export interface RuleOutcome {
  allowed: boolean;
  remaining: number;
  resetAtMs: number;
  /**
   * Denied: ms until a retry could be admitted, -1 never (cost above limit). Admitted: ms the
   * request must wait for the slot it reserved (shaping, `maxDelay`), 0 otherwise.
   */
  retryAfterMs: number;
}

/** A store's answer: per call, in order, and the store's clock at decision time. @publicApi */
export interface StoreResult {
  /** Epoch ms the store decided at (Redis `TIME` for Redis). */
  now: number;
  outcomes: RuleOutcome[];
}

/**
 * Where rate-limit state lives. Abstract class so it doubles as the DI token.
 * Stores answer denials as values and throw only when they cannot decide.
 * @publicApi
 */
export abstract class RateLimitStore {
  /** `redis` or `memory`: which store answers right now. */
  abstract readonly kind: 'redis' | 'memory';

  /**
   * Decides all calls at once, all-or-nothing: each admitted call is charged only if every
   * enforced call admits. `now` (epoch ms) is for tests; stores otherwise use their own clock
   * (Redis `TIME` for Redis).
   */
  abstract consume(calls: RuleCall[], now?: number): Promise<StoreResult>;

  /** What `consume` would answer, without charging. */
  abstract peek(calls: RuleCall[], now?: number): Promise<StoreResult>;

  /** Forgets the state of these keys. */
  abstract reset(keys: string[]): Promise<void>;

  /** Ends a concurrency lease. */
  abstract release(key: string, leaseId: string): Promise<void>;

  /**
   * Gives back what one admitted `consume` of these calls charged, `chargedAt` being the `now`
   * it answered (a sliding log removes that admission's entry). For the algorithms that have a
   * refund (all but concurrency and the weighted token bucket); answers the state as a look.
   */
  abstract refund(calls: RuleCall[], chargedAt: number, now?: number): Promise<StoreResult>;
}
