import type { Algorithm, RuleMode } from './rate-limit-rule.interface.js';

/** One rule's part of a decision. Times are epoch milliseconds, durations milliseconds. @publicApi */
export interface RuleDecision {
  rule: string;
  algorithm: Algorithm;
  /** Whether this rule admits the request. A `dry-run` rule reports `false` here but never denies. */
  allowed: boolean;
  limit: number;
  /** Units this request costs. */
  cost: number;
  windowMs: number;
  mode: RuleMode;
  /** Units left after this request. */
  remaining: number;
  /** When the rule is fully reset (window end, bucket full again). */
  resetAtMs: number;
  /** 0 when allowed; otherwise how long until a retry would be admitted; -1 when never (cost above limit). */
  retryAfterMs: number;
}

/** The answer for one request: admitted only if every enforced rule admits it. @publicApi */
export interface Decision {
  allowed: boolean;
  /** The rule the summary describes: the denying one, else the one with the least remaining. */
  binding: RuleDecision;
  perRule: RuleDecision[];
  /** Whole seconds of `Retry-After` for the binding rule: at least 1, at most its window. */
  retryAfter: number;
}
