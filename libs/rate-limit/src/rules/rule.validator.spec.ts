import { RateLimitConfigError } from '../errors/index.js';
import type { RuleInput } from '../interfaces/index.js';
import { sameRule, validateRule } from './rule.validator.js';

type Overrides = Partial<Record<keyof RuleInput, unknown>>;

const WHERE = 'ApiController.getPublic';
const valid: RuleInput = { algorithm: 'sliding-window-log', limit: 10, window: '1m', key: 'ip' };
const validate = (overrides: Overrides) =>
  validateRule({ ...valid, ...overrides } as RuleInput, WHERE, 'ApiController.getPublic');

/** The error a rule gets, with what users read: the handler, the field, and why. */
function failure(overrides: Overrides): { field?: string; where?: string; message: string } {
  try {
    validate(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(RateLimitConfigError);
    const { field, where, message } = error as RateLimitConfigError;
    return { field, where, message };
  }
  throw new Error(`no error for ${JSON.stringify(overrides)}`);
}

describe('validateRule', () => {
  it('turns a rule as written into a frozen rule with defaults and the window in ms', () => {
    const rule = validate({});
    expect(rule).toEqual({
      name: 'ApiController.getPublic',
      algorithm: 'sliding-window-log',
      limit: 10,
      windowMs: 60_000,
      key: 'ip',
      cost: 1,
      tiers: undefined,
      tier: undefined,
      mode: 'enforce',
    });
    expect(Object.isFrozen(rule)).toBe(true);
  });

  it("copies what it keeps, leaving the caller's objects alone", () => {
    const tiers = { free: 100, enterprise: 'exempt' as const };
    const key = ['api-key', 'ip'] as ['api-key', 'ip'];
    const rule = validate({ tiers, key, tier: () => 'free', name: 'premium' });
    expect(rule.tiers).toEqual(tiers);
    expect(rule.tiers).not.toBe(tiers);
    expect(rule.key).not.toBe(key);
    expect(Object.isFrozen(tiers)).toBe(false);
  });

  it.each<[Overrides]>([
    [{ limit: 1 }],
    [{ limit: 1_000_000_000 }],
    [{ window: 1 }],
    [{ window: 2_678_400_000 }],
    [{ window: '31d' }],
    [{ key: ['ip', 'api-key'] }],
    [{ key: () => 'k' }],
    [{ cost: 10 }],
    [{ cost: () => 3 }],
    [{ mode: 'dry-run' }],
    [{ algorithm: 'concurrency', cost: 1 }],
    [{ tiers: { free: 1, pro: 1_000_000_000, enterprise: 'exempt' }, tier: () => 'pro' }],
  ])('accepts %j', (overrides) => {
    expect(() => validate(overrides)).not.toThrow();
  });

  it.each<[Overrides, string]>([
    [{ name: '' }, 'name'],
    [{ name: 'has space' }, 'name'],
    [{ name: 'say "hi"' }, 'name'],
    [{ name: 'back\\slash' }, 'name'],
    [{ name: 'café' }, 'name'],
    [{ name: 'a/b' }, 'name'],
    [{ name: 'x'.repeat(129) }, 'name'],
    [{ algorithm: 'leaky' }, 'algorithm'],
    [{ algorithm: undefined }, 'algorithm'],
    [{ limit: 0 }, 'limit'],
    [{ limit: -5 }, 'limit'],
    [{ limit: 1.5 }, 'limit'],
    [{ limit: '10' }, 'limit'],
    [{ limit: 1_000_000_001 }, 'limit'],
    [{ window: 0 }, 'window'],
    [{ window: '10 seconds' }, 'window'],
    [{ window: 2_678_400_001 }, 'window'],
    [{ window: '32d' }, 'window'],
    [{ window: undefined }, 'window'],
    [{ key: undefined }, 'key'],
    [{ key: 'cookie' }, 'key'],
    [{ key: [] }, 'key'],
    [{ key: ['ip', 'cookie'] }, 'key'],
    [{ cost: 0 }, 'cost'],
    [{ cost: 1.5 }, 'cost'],
    [{ cost: 11 }, 'cost'],
    [{ algorithm: 'concurrency', cost: 2 }, 'cost'],
    [{ tiers: { pro: 0 }, tier: () => 'pro' }, 'tiers.pro'],
    [{ tiers: { pro: 'unlimited' }, tier: () => 'pro' }, 'tiers.pro'],
    [{ tiers: { pro: 5 } }, 'tier'],
    [{ tier: () => 'pro' }, 'tiers'],
    [{ mode: 'shadow' }, 'mode'],
  ])('refuses %j, naming the handler and the field %s', (overrides, field) => {
    const error = failure(overrides);
    expect({ field: error.field, where: error.where }).toEqual({ field, where: WHERE });
    expect(error.message.startsWith(`Invalid rate-limit rule on ${WHERE}: "${field}" `)).toBe(true);
  });

  it('refuses something that is not an object', () => {
    expect(() => validateRule(null as unknown as RuleInput, WHERE, 'x')).toThrow(
      `Invalid rate-limit rule on ${WHERE}: "rule" must be an object`,
    );
  });

  it.each<[Overrides, string]>([
    [{ limit: 0 }, '"limit" must be between 1 and 1000000000'],
    [{ limit: 2.5 }, '"limit" must be a positive integer'],
    [{ window: 2_678_400_001 }, '"window" in ms must be between 1 and 2678400000'],
    [{ cost: 11 }, '"cost" (11) exceeds the limit (10): no request could ever be admitted'],
    [
      { algorithm: 'leaky' },
      '"algorithm" must be one of fixed-window, sliding-window-log, sliding-window-counter, ' +
        'token-bucket, leaky-bucket, gcra, concurrency, weighted-token-bucket; got "leaky"',
    ],
  ])('says why: %j', (overrides, why) => {
    expect(failure(overrides).message).toBe(`Invalid rate-limit rule on ${WHERE}: ${why}`);
  });
});

describe('sameRule', () => {
  const key = () => 'k';
  const a = validate({ key });

  it('holds for the same settings, functions compared by identity', () => {
    expect(sameRule(a, validate({ key }))).toBe(true);
    const composite = () => validate({ key: ['ip', 'api-key'] });
    expect(sameRule(composite(), composite())).toBe(true);
  });

  it.each<[Overrides]>([
    [{ key: () => 'k' }],
    [{ limit: 11 }],
    [{ window: '2m' }],
    [{ algorithm: 'fixed-window' }],
    [{ mode: 'dry-run' }],
    [{ cost: 2 }],
  ])('fails when %j differs', (overrides) => {
    expect(sameRule(a, validate({ key, ...overrides }))).toBe(false);
  });
});
