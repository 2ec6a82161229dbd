import { int, pick, seeded } from '../../../../../test/support/random.js';
import type { KeyBy, RateLimitRule } from '../../interfaces/index.js';
import { callerIdentity } from './caller-identity.js';
import {
  formatIdentity,
  type IdentityPart,
  type IdentitySource,
  parseIdentity,
} from './identity.js';
import { ipBudgetKey } from './ip.js';
import { namedIdentity } from './named-identity.js';

/** Characters that stress the format: its separators and escapes, and some non-ASCII. */
const ALPHABET = [
  'a',
  'Z',
  '0',
  '=',
  '|',
  '%',
  '2',
  '5',
  '7',
  'C',
  ':',
  '/',
  ' ',
  'é',
  'ключ',
  '{',
  '}',
  '#',
];
const SOURCES: IdentitySource[] = ['ip', 'key', 'user', 'route'];

function randomParts(rnd: () => number): IdentityPart[] {
  return Array.from({ length: int(rnd, 1, 4) }, (): IdentityPart => {
    if (rnd() < 0.1) return { source: 'global' };
    const value = Array.from({ length: int(rnd, 1, 8) }, () => pick(rnd, ALPHABET)).join('');
    return { source: pick(rnd, SOURCES), value };
  });
}

describe('identity format', () => {
  it('parses back exactly what it formats, for 5000 seeded random identities', () => {
    const rnd = seeded(20260101);
    const seen = new Map<string, string>();
    for (let n = 0; n < 5000; n++) {
      const parts = randomParts(rnd);
      const text = formatIdentity(parts);
      expect(parseIdentity(text)).toEqual(parts);
      // Injective: one text, one list of parts.
      const key = JSON.stringify(parts);
      if (seen.has(text)) expect(seen.get(text)).toBe(key);
      seen.set(text, key);
    }
  });

  it('formats back exactly what it parses (one spelling per identity), for seeded random texts', () => {
    const rnd = seeded(7);
    let parsed = 0;
    for (let n = 0; n < 5000; n++) {
      const text = Array.from({ length: int(rnd, 1, 12) }, () =>
        pick(rnd, [...ALPHABET, 'ip=', 'key=', 'global']),
      ).join('');
      const parts = parseIdentity(text);
      if (parts === undefined) continue;
      parsed++;
      expect(formatIdentity(parts)).toBe(text);
    }
    expect(parsed).toBeGreaterThan(100);
  });

  it('writes values without separators as they are, so existing state keys keep their names', () => {
    expect(
      formatIdentity([
        { source: 'ip', value: '203.0.113.7' },
        { source: 'key', value: 'abc' },
      ]),
    ).toBe('ip=203.0.113.7|key=abc');
    expect(formatIdentity([{ source: 'key', value: 'a|ip=1.2.3.4' }])).toBe('key=a%7Cip=1.2.3.4');
  });

  it.each(['', 'ip=', 'nope=1', 'key=50%off', 'key=%7c', 'global|', '|global'])(
    'does not read %j as an identity',
    (text) => {
      expect(parseIdentity(text)).toBeUndefined();
    },
  );
});

describe('caller and named identities agree', () => {
  const rule = (key: KeyBy): RateLimitRule => ({
    name: 'r',
    algorithm: 'fixed-window',
    limit: 10,
    windowMs: 60_000,
    key,
    cost: 1,
    mode: 'enforce',
  });

  it('names the budget a caller spends the way an operator or worker names it, for seeded random callers', () => {
    const rnd = seeded(99);
    for (let n = 0; n < 2000; n++) {
      const apiKey = Array.from({ length: int(rnd, 1, 10) }, () => pick(rnd, ALPHABET)).join('');
      const ip =
        rnd() < 0.5
          ? `198.51.100.${int(rnd, 0, 255)}`
          : `2001:db8:${int(rnd, 0, 0xffff).toString(16)}::${int(rnd, 1, 0xffff).toString(16)}`;
      const built = callerIdentity('api-key', { ip, apiKey }, 64);
      if (!/^(?:ip|key|user|route)=|^global/.test(apiKey) && apiKey.length <= 1024) {
        expect(namedIdentity(rule('api-key'), apiKey, 64)).toBe(built);
      }
      expect(namedIdentity(rule('api-key'), built, 64)).toBe(built);
      expect(namedIdentity(rule('ip'), ip, 64)).toBe(callerIdentity('ip', { ip }, 64));
    }
  });

  it.each<[KeyBy, string, string]>([
    ['ip', '203.0.113.7', 'ip=203.0.113.7'],
    ['ip', '::ffff:203.0.113.7', 'ip=203.0.113.7'],
    ['ip', 'ip=::ffff:203.0.113.7', 'ip=203.0.113.7'],
    ['ip', '2001:db8:1:2:3:4:5:6', 'ip=2001:db8:1:2::/64'],
    ['ip', 'ip=2001:db8:1:2::/64', 'ip=2001:db8:1:2::/64'],
    ['api-key', 'tenant-a', 'key=tenant-a'],
    ['api-key', '203.0.113.7', 'ip=203.0.113.7'],
    ['api-key', 'key=203.0.113.7', 'key=203.0.113.7'],
    ['user', '42', 'user=42'],
    ['route', 'ApiController.getPublic', 'route=ApiController.getPublic'],
    ['global', 'anything', 'global'],
    [['ip', 'api-key'], 'ip=203.0.113.7|key=abc', 'ip=203.0.113.7|key=abc'],
    [() => 'x', 'tenant:42', 'tenant:42'],
  ])('key %j: %s -> %s', (key, raw, identity) => {
    expect(namedIdentity(rule(key), raw, 64)).toBe(identity);
  });

  it.each<[KeyBy, string, RegExp]>([
    ['ip', 'not-an-ip', /keyed by client IP/],
    ['ip', 'ip=2001:db8:1:2::/48', /not an IP address/],
    [['ip', 'api-key'], 'abc', /write the key as the guard builds it/],
    ['api-key', '', /1 to 1024 characters/],
    ['api-key', 'key=50%off', /is not an identity/],
  ])('key %j refuses %j', (key, raw, why) => {
    expect(() => namedIdentity(rule(key), raw, 64)).toThrow(why);
  });
});

describe('ipBudgetKey', () => {
  it.each([
    ['203.0.113.7', 64, '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', 64, '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', 64, '2001:db8:1:2::/64'],
    ['2001:db8:1:2:3:4:5:6', 56, '2001:db8:1::/56'],
    ['2001:db8:1:2:3:4:5:6', 128, '2001:db8:1:2:3:4:5:6'],
    ['::1', 64, '::/64'],
  ])('%s under /%d is %s', (ip, prefix, key) => {
    expect(ipBudgetKey(ip, prefix)).toBe(key);
  });
});
