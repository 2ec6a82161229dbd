import type { Decision, RateLimitRule, RuleDecision } from '../interfaces/index.js';
import { BOUNDS } from '../rate-limit.constants.js';
import type { RuleOutcome } from '../stores/rate-limit.store.js';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/**
 * Whole seconds for `Retry-After`: at least 1, at most the rule's window; a request that can
 * never be admitted (`retryAfterMs` -1) gets the whole window. The only place it is computed.
 * @internal
 */
export function retryAfterSeconds(retryAfterMs: number, windowMs: number): number {
  const cap = Math.max(1, seconds(windowMs));
  if (retryAfterMs < 0) return cap;
  return Math.min(cap, Math.max(1, seconds(retryAfterMs)));
}

/**
 * The longest `Retry-After` a rule can honestly ask for: its window, or its block when longer,
 * plus how long it may hold a request (a shaped rule's denial waits for the queue to drain too).
 * @internal
 */
export function retryCapMs(
  rule: Pick<RateLimitRule, 'windowMs' | 'blockMs' | 'maxDelayMs'>,
): number {
  return Math.max(rule.windowMs, rule.blockMs ?? 0) + (rule.maxDelayMs ?? 0);
}

/** A rule as decided: its limit, window and cost for this caller. @internal */
export type AppliedRule = Pick<
  RateLimitRule,
  'name' | 'algorithm' | 'mode' | 'blockMs' | 'maxDelayMs'
> & {
  limit: number;
  windowMs: number;
  cost: number;
};

/**
 * Joins the rules in force with the store's answers. The binding rule is the enforced denying
 * rule with the longest wait (never-admissible first) when denied, else the one with the least
 * remaining. `retryAfter` is the binding rule's `Retry-After` in seconds.
 * @internal
 */
export function buildDecision(
  rules: readonly AppliedRule[],
  outcomes: readonly RuleOutcome[],
): Decision {
  const perRule: RuleDecision[] = [];
  // One pass: the longest-waiting enforced denial (the first of equals), else the least remaining.
  let denied = -1;
  let deniedWait = -Infinity;
  let least = -1;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const outcome = outcomes[i];
    // Built field by field: one object shape for every decision, no spread per request.
    const decided: RuleDecision = {
      rule: rule.name,
      algorithm: rule.algorithm,
      allowed: outcome.allowed,
      limit: rule.limit,
      cost: rule.cost,
      windowMs: rule.windowMs,
      mode: rule.mode,
      remaining: outcome.remaining,
      resetAtMs: outcome.resetAtMs,
      retryAfterMs: outcome.retryAfterMs,
    };
    perRule.push(decided);
    if (!decided.allowed && decided.mode === 'enforce') {
      const wait = decided.retryAfterMs < 0 ? Infinity : decided.retryAfterMs;
      if (denied < 0 || wait > deniedWait) {
        denied = i;
        deniedWait = wait;
      }
    }
    if (least < 0 || decided.remaining < perRule[least].remaining) least = i;
  }
  const at = denied >= 0 ? denied : least;
  const binding = perRule[at];
  return {
    allowed: denied < 0,
    binding,
    perRule,
    retryAfter: retryAfterSeconds(binding.retryAfterMs, retryCapMs(rules[at])),
  };
}

/**
 * Why a per-request cost cannot be charged, or `undefined` when it can: a whole number from 0
 * to the largest limit a rule can have. A cost above the rule's limit can be asked: both stores
 * answer it "never" (429 with the whole window as `Retry-After`). Negative or fractional costs
 * would refund or corrupt state, so they never reach a store.
 * @internal
 */
export function costProblem(cost: unknown): string | undefined {
  if (typeof cost !== 'number' || !Number.isInteger(cost) || cost < 0 || cost > BOUNDS.cost.max) {
    const got = typeof cost === 'number' ? String(cost) : typeof cost;
    return `must be a whole number from 0 to ${BOUNDS.cost.max}; got ${got}`;
  }
  return undefined;
}
