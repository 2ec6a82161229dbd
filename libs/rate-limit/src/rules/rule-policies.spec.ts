import { buildDecision, retryCapMs } from '../core/decision.js';
import { counts, policyFields, shapingDelay } from '../core/rule-policies.js';
import { RateLimitConfigError } from '../errors/index.js';
import type { RuleInput } from '../interfaces/index.js';
import { DenyCache } from '../stores/deny-cache.js';
import type { RuleCall, StoreResult } from '../stores/rate-limit.store.js';
import { sameRule, validateRule } from './rule.validator.js';

const WHERE = 'AuthController.login';
const base: RuleInput = { algorithm: 'gcra', limit: 5, window: '15m', key: 'ip' };
const validate = (overrides: Partial<Record<keyof RuleInput, unknown>>) =>
  validateRule({ ...base, ...overrides } as RuleInput, WHERE, 'x');

function refusal(overrides: Partial<Record<keyof RuleInput, unknown>>): {
  field?: string;
  message: string;
} {
  try {
    validate(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(RateLimitConfigError);
    return { field: (error as RateLimitConfigError).field, message: (error as Error).message };
  }
  throw new Error(`no error for ${JSON.stringify(overrides)}`);
}

describe('rule policies: validation', () => {
  it('keeps the policies set, durations in ms, and nothing for the ones left out', () => {
    const rule = validate({ blockDuration: '30s', maxDelay: '500ms', count: 'failures' });
    expect(rule).toMatchObject({ blockMs: 30_000, maxDelayMs: 500, count: 'failures' });
    const plain = validate({});
    expect(['blockMs', 'maxDelayMs', 'count'].filter((field) => field in plain)).toEqual([]);
    // 'all' is the default: kept as no policy.
    expect('count' in validate({ count: 'all' })).toBe(false);
  });

  it.each<[Partial<Record<keyof RuleInput, unknown>>, string, string]>([
    [
      { blockDuration: 0 },
      'blockDuration',
      'must be a positive whole number of milliseconds, got 0',
    ],
    [{ blockDuration: '32d' }, 'blockDuration', 'in ms must be between 1 and 2678400000'],
    [{ blockDuration: 'soon' }, 'blockDuration', ''],
    [
      { algorithm: 'concurrency', blockDuration: '1m' },
      'blockDuration',
      'cannot be used with the concurrency algorithm',
    ],
    [
      { algorithm: 'token-bucket', maxDelay: '1s' },
      'maxDelay',
      'is for leaky-bucket and gcra rules only',
    ],
    [{ maxDelay: 1.5 }, 'maxDelay', 'must be a positive whole number of milliseconds, got 1.5'],
    // 1e9 per 7 ms drains 1e9 sub-units a ms: 31 days of queue is past exact integers.
    [
      { limit: 1_000_000_000, window: 7, maxDelay: '31d' },
      'maxDelay',
      'is too long for this limit and window to be counted exactly',
    ],
    [
      { count: 'errors' },
      'count',
      "must be 'all', 'failures', 'successes' or a function of the status code",
    ],
    [
      { algorithm: 'concurrency', count: 'failures' },
      'count',
      'cannot be used with the concurrency algorithm: it has no refund',
    ],
    [
      { algorithm: 'weighted-token-bucket', classes: { all: 1 }, count: 'successes' },
      'count',
      'cannot be used with the weighted-token-bucket algorithm: it has no refund',
    ],
  ])('refuses %j at boot, naming %s', (overrides, field, why) => {
    const error = refusal(overrides);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`Invalid rate-limit rule on ${WHERE}: "${field}" ${why}`);
  });

  it('tells rules of different policies apart', () => {
    const a = validate({ blockDuration: '1m' });
    expect(sameRule(a, validate({ blockDuration: '1m' }))).toBe(true);
    expect(sameRule(a, validate({ blockDuration: '2m' }))).toBe(false);
    expect(sameRule(validate({}), validate({ maxDelay: '1s' }))).toBe(false);
    expect(sameRule(validate({}), validate({ count: 'failures' }))).toBe(false);
    expect(sameRule(validate({}), validate({ count: 'all' }))).toBe(true);
  });
});

describe('rule policies: the core', () => {
  it('counts outcomes by status', () => {
    expect([200, 302, 401, 500].map((s) => counts('failures', s))).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect([200, 302, 401, 500].map((s) => counts('successes', s))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect([200, 429].map((s) => counts(undefined, s))).toEqual([true, true]);
    expect([401, 403].map((s) => counts((status) => status === 401, s))).toEqual([true, false]);
  });

  it('marks the rules whose denials a refund can end, for the deny cache', () => {
    expect(policyFields(validate({}))).toEqual({});
    expect(policyFields(validate({ blockDuration: '1m' }))).toEqual({ blockMs: 60_000 });
    expect(policyFields(validate({ maxDelay: '1s' }))).toEqual({
      maxDelayMs: 1_000,
      refundable: true,
    });
    expect(policyFields(validate({ count: 'failures' }))).toEqual({ refundable: true });
  });

  const applied = (name: string, mode: 'enforce' | 'dry-run' = 'enforce', extra = {}) => ({
    name,
    algorithm: 'gcra' as const,
    mode,
    limit: 1,
    windowMs: 1_000,
    cost: 1,
    ...extra,
  });
  const outcome = (allowed: boolean, retryAfterMs: number) => ({
    allowed,
    remaining: 0,
    resetAtMs: 0,
    retryAfterMs,
  });

  it('holds an admitted request for the longest wait of its enforced shaped rules, a denied one not at all', () => {
    const rules = [applied('a'), applied('b'), applied('c', 'dry-run')];
    expect(
      shapingDelay(
        buildDecision(rules, [outcome(true, 300), outcome(true, 700), outcome(true, 900)]),
      ),
    ).toBe(700);
    expect(
      shapingDelay(
        buildDecision(rules, [outcome(true, 300), outcome(false, 700), outcome(true, 0)]),
      ),
    ).toBe(0);
  });

  it('lets Retry-After cover a block or a queue longer than the window', () => {
    expect(retryCapMs({ windowMs: 1_000 })).toBe(1_000);
    expect(retryCapMs({ windowMs: 1_000, blockMs: 60_000 })).toBe(60_000);
    expect(retryCapMs({ windowMs: 1_000, maxDelayMs: 5_000 })).toBe(6_000);
    const blocked = buildDecision(
      [applied('a', 'enforce', { blockMs: 60_000 })],
      [outcome(false, 59_001)],
    );
    expect(blocked.retryAfter).toBe(60);
  });
});

describe('rule policies and the deny cache', () => {
  let time = 5_000;
  const cache = () => new DenyCache({ clock: () => time });
  const call = (extra: Partial<RuleCall> = {}): RuleCall => ({
    key: 'k',
    algorithm: 'fixed-window',
    limit: 10,
    windowMs: 60_000,
    cost: 1,
    enforce: true,
    ...extra,
  });
  const denied = (retryAfterMs: number): StoreResult => ({
    now: 1_000_000,
    outcomes: [{ allowed: false, remaining: 0, resetAtMs: 1_000_000 + retryAfterMs, retryAfterMs }],
  });

  it('keeps a block as a steady denial until its end', () => {
    const c = cache();
    c.remember([call({ blockMs: 300_000 })], denied(300_000));
    time += 299_000;
    expect(c.lookup([call({ blockMs: 300_000 })])?.outcomes[0].retryAfterMs).toBe(1_000);
    time += 1_000;
    expect(c.lookup([call({ blockMs: 300_000 })])).toBeUndefined();
  });

  it('never keeps the denial of a rule whose charges a refund can give back', () => {
    const c = cache();
    c.remember([call({ refundable: true })], denied(30_000));
    c.remember([call(), call({ key: 'other', refundable: true })], {
      ...denied(30_000),
      outcomes: [...denied(30_000).outcomes, ...denied(30_000).outcomes],
    });
    expect(c.size).toBe(0);
  });
});
