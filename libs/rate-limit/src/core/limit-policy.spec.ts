import type { RateLimitRule } from '../interfaces/index.js';
import { resolveLimit } from './limit-policy.js';

const rule: RateLimitRule = {
  name: 'premium',
  algorithm: 'fixed-window',
  limit: 10,
  windowMs: 60_000,
  key: 'api-key',
  cost: 1,
  mode: 'enforce',
  tiers: { pro: 100, enterprise: 'exempt' },
  tier: () => undefined,
};

describe('resolveLimit: cap > tier > limit', () => {
  it.each([
    [undefined, undefined, { exempt: false, limit: 10, windowMs: 60_000, source: 'rule' }],
    ['pro', undefined, { exempt: false, limit: 100, windowMs: 60_000, source: 'tier' }],
    ['enterprise', undefined, { exempt: true, source: 'tier' }],
    ['enterprise', { limit: 2 }, { exempt: false, limit: 2, windowMs: 60_000, source: 'cap' }],
    [
      'pro',
      { limit: 3, windowMs: 1_000 },
      { exempt: false, limit: 3, windowMs: 1_000, source: 'cap' },
    ],
    ['gold', undefined, { exempt: false, limit: 10, windowMs: 60_000, source: 'unlisted-tier' }],
  ] as const)('tier %j, cap %j', (tier, cap, expected) => {
    expect(resolveLimit(rule, tier, cap)).toEqual(expected);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'does not take %s from the prototype chain',
    (tier) => {
      expect(resolveLimit(rule, tier, undefined)).toEqual({
        exempt: false,
        limit: 10,
        windowMs: 60_000,
        source: 'unlisted-tier',
      });
    },
  );
});
