import type { Decision, RateLimitRule, RuleDecision } from '../interfaces/index.js';
import type { RuleOutcome } from '../stores/rate-limit.store.js';

/**
 * Joins the rules in force with the store's answers. The binding rule is the enforced denying
 * rule with the longest wait (never-admissible first) when denied, else the one with the least
 * remaining.
 * @internal
 */
export function buildDecision(rules: Array<RateLimitRule & { limit: number; cost: number }>, outcomes: RuleOutcome[]): Decision {
  const perRule: RuleDecision[] = rules.map((rule, i) => ({
    rule: rule.name,
    algorithm: rule.algorithm,
    limit: rule.limit,
    cost: rule.cost,
    windowMs: rule.windowMs,
    mode: rule.mode,
    ...outcomes[i],
  }));
  const denying = perRule.filter((r) => !r.allowed && r.mode === 'enforce');
  const wait = (r: RuleDecision) => (r.retryAfterMs < 0 ? Infinity : r.retryAfterMs);
  const binding =
    denying.length > 0
      ? denying.reduce((a, b) => (wait(b) > wait(a) ? b : a))
      : perRule.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  return { allowed: denying.length === 0, binding, perRule };
}
