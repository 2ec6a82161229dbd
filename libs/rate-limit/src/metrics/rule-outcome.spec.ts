import type { RuleDecision } from '../interfaces/index.js';
import { ruleOutcome } from './rule-outcome.js';

const rule = (allowed: boolean, mode: RuleDecision['mode']): RuleDecision => ({
  rule: 'r',
  algorithm: 'fixed-window',
  allowed,
  limit: 10,
  cost: 1,
  windowMs: 60_000,
  mode,
  remaining: allowed ? 5 : 0,
  resetAtMs: 0,
  retryAfterMs: allowed ? 0 : 1000,
});

describe('ruleOutcome', () => {
  it.each([
    [true, true, 'enforce', 'allowed'],
    [true, false, 'dry-run', 'dry_run_denied'],
    [true, true, 'dry-run', 'allowed'],
    [false, false, 'enforce', 'denied'],
    [false, false, 'dry-run', 'dry_run_denied'],
    // Denied by another rule: this one neither admitted nor denied the request.
    [false, true, 'enforce', undefined],
  ] as const)(
    'request admitted=%s, rule allowed=%s in %s: %s',
    (admitted, allowed, mode, outcome) => {
      expect(ruleOutcome(admitted, rule(allowed, mode))).toBe(outcome);
    },
  );
});
