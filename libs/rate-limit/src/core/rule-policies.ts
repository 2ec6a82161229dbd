import type { CountPolicy, Decision, RateLimitRule } from '../interfaces/index.js';
import type { RuleCall } from '../stores/rate-limit.store.js';

/**
 * What a rule's policies add to its store call: the block, the shaping delay, and whether its
 * charges may be refunded (which keeps its denials out of the deny cache: a refund can end them).
 * @internal
 */
export function policyFields(
  rule: RateLimitRule,
): Pick<RuleCall, 'blockMs' | 'maxDelayMs' | 'refundable'> {
  const fields: Pick<RuleCall, 'blockMs' | 'maxDelayMs' | 'refundable'> = {};
  if (rule.blockMs !== undefined) fields.blockMs = rule.blockMs;
  if (rule.maxDelayMs !== undefined) fields.maxDelayMs = rule.maxDelayMs;
  if (rule.maxDelayMs !== undefined || (rule.count ?? 'all') !== 'all') fields.refundable = true;
  return fields;
}

/**
 * How long an admitted request waits for the slots its shaped rules reserved: the longest of
 * their waits (the enforced ones: a dry-run rule never holds a request). 0 when not shaped.
 * @internal
 */
export function shapingDelay(decision: Decision): number {
  if (!decision.allowed) return 0;
  let delay = 0;
  for (const r of decision.perRule) {
    if (r.allowed && r.mode === 'enforce') delay = Math.max(delay, r.retryAfterMs);
  }
  return delay;
}

/** Whether a response of this status is charged under `count`. @internal */
export function counts(policy: CountPolicy | undefined, status: number): boolean {
  if (policy === undefined || policy === 'all') return true;
  if (policy === 'failures') return status >= 400;
  if (policy === 'successes') return status < 400;
  return policy(status);
}
