import type { KeyBy, RateLimitRule } from '../interfaces/index.js';
import { ruleIdentity } from './identity.js';

const rule = (key: KeyBy): RateLimitRule => ({
  name: 'r',
  algorithm: 'fixed-window',
  limit: 10,
  windowMs: 60_000,
  key,
  cost: 1,
  mode: 'enforce',
});

describe('ruleIdentity: the admin names a key as the guard tracks it', () => {
  it.each<[KeyBy, string, string]>([
    ['ip', '203.0.113.7', 'ip=203.0.113.7'],
    ['ip', '::ffff:203.0.113.7', 'ip=203.0.113.7'],
    ['ip', 'ip=::ffff:203.0.113.7', 'ip=203.0.113.7'],
    ['api-key', 'tenant-a', 'key=tenant-a'],
    ['api-key', '203.0.113.7', 'ip=203.0.113.7'],
    ['api-key', 'key=203.0.113.7', 'key=203.0.113.7'],
    ['user', '42', 'user=42'],
    ['route', 'ApiController.getPublic', 'route=ApiController.getPublic'],
    ['global', 'anything', 'global'],
    [['ip', 'api-key'], 'ip=203.0.113.7|key=abc', 'ip=203.0.113.7|key=abc'],
    [() => 'x', 'tenant:42', 'tenant:42'],
  ])('key %j: %s -> %s', (key, raw, identity) => {
    expect(ruleIdentity(rule(key), raw)).toBe(identity);
  });

  it.each<[KeyBy, string, RegExp]>([
    ['ip', 'not-an-ip', /keyed by client IP/],
    [['ip', 'api-key'], 'abc', /write the key as the guard builds it/],
    ['api-key', '', /1 to 1024 characters/],
  ])('key %j refuses %j', (key, raw, why) => {
    expect(() => ruleIdentity(rule(key), raw)).toThrow(why);
  });
});
