import type { RuleDecision } from '../interfaces/index.js';
import type { ThrottleOutcome } from './throttle-log.js';

/**
 * A rule's outcome for one request. A request denied by another rule of its route was neither
 * admitted nor denied by this one (nothing was charged), so it is not counted for it.
 * @internal
 */
export function ruleOutcome(
  admitted: boolean,
  rule: RuleDecision,
): 'allowed' | ThrottleOutcome | undefined {
  if (!rule.allowed) return rule.mode === 'dry-run' ? 'dry_run_denied' : 'denied';
  return admitted ? 'allowed' : undefined;
}
