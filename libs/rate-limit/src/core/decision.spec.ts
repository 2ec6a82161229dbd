import type { RuleOutcome } from '../stores/rate-limit.store.js';
import { type AppliedRule, buildDecision, costProblem, retryAfterSeconds } from './decision.js';

describe('retryAfterSeconds', () => {
  it.each([
    [1, 60_000, 1],
    [1_000, 60_000, 1],
    [1_001, 60_000, 2],
    [17_250, 60_000, 18],
    [60_000, 60_000, 60],
    [3_600_000, 60_000, 60],
    [250, 500, 1],
    [0, 60_000, 1],
  ])(
    '%d ms with a %d ms window is %d s: whole seconds, at least 1, at most the window',
    (ms, windowMs, seconds) => {
      expect(retryAfterSeconds(ms, windowMs)).toBe(seconds);
    },
  );

  it('answers the whole window for a request that can never be admitted', () => {
    expect(retryAfterSeconds(-1, 60_000)).toBe(60);
    expect(retryAfterSeconds(-1, 1)).toBe(1);
  });
});

describe('buildDecision', () => {
  const applied = (name: string, mode: AppliedRule['mode'] = 'enforce'): AppliedRule => ({
    name,
    algorithm: 'fixed-window',
    mode,
    limit: 10,
    windowMs: 60_000,
    cost: 1,
  });
  const outcome = (allowed: boolean, retryAfterMs: number, remaining = 0): RuleOutcome => ({
    allowed,
    remaining,
    resetAtMs: 0,
    retryAfterMs,
  });

  it('binds the enforced denial with the longest wait, never-admissible first, and its Retry-After', () => {
    const decision = buildDecision(
      [applied('a'), applied('b'), applied('c', 'dry-run')],
      [outcome(false, 5_000), outcome(false, 12_500), outcome(false, -1)],
    );
    expect(decision).toMatchObject({ allowed: false, binding: { rule: 'b' }, retryAfter: 13 });
    const never = buildDecision(
      [applied('a'), applied('b')],
      [outcome(false, 5_000), outcome(false, -1)],
    );
    expect(never).toMatchObject({ binding: { rule: 'b' }, retryAfter: 60 });
  });

  it('binds the rule with the least remaining when admitted; a dry-run denial does not deny', () => {
    const decision = buildDecision(
      [applied('a'), applied('b', 'dry-run')],
      [outcome(true, 0, 4), outcome(false, 3_000, 0)],
    );
    expect(decision).toMatchObject({ allowed: true, binding: { rule: 'b' } });
  });
});

describe('costProblem', () => {
  it.each([0, 1, 1_000_000_000])('accepts %d', (cost) => expect(costProblem(cost)).toBeUndefined());
  it.each([-1, 1.5, NaN, Infinity, 1_000_000_001, '2', null])('refuses %p', (cost) => {
    expect(costProblem(cost)).toMatch(/whole number from 0/);
  });
});
