import type { Decision, RuleDecision } from '../interfaces/index.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0, 250);

const rule = (overrides: Partial<RuleDecision>): RuleDecision => ({
  rule: 'public',
  algorithm: 'sliding-window-log',
  allowed: true,
  limit: 10,
  cost: 1,
  windowMs: 60_000,
  mode: 'enforce',
  remaining: 3,
  resetAtMs: NOW + 42_000,
  retryAfterMs: 0,
  ...overrides,
});

const decision = (perRule: RuleDecision[], binding = perRule[0]): Decision => ({
  allowed: perRule.every((r) => r.allowed || r.mode === 'dry-run'),
  binding,
  perRule,
  retryAfter: 7,
});

/** An RFC 8941 list of string items, each with integer parameters (all the draft's fields use). */
const SF_ITEM = String.raw`"[\x20\x21\x23-\x5b\x5d-\x7e]*"(;[a-z][a-z0-9_.*-]*=\d+)+`;
const SF_LIST = new RegExp(`^${SF_ITEM}(, ${SF_ITEM})*$`);

describe('rateLimitHeaders', () => {
  const writes = rule({
    rule: 'writes',
    algorithm: 'fixed-window',
    limit: 20,
    remaining: 12,
    resetAtMs: NOW + 30_000,
  });
  const burst = rule({
    rule: 'writes-burst',
    algorithm: 'token-bucket',
    limit: 5,
    windowMs: 10_000,
    remaining: 4,
    resetAtMs: NOW + 1_500,
  });

  it('describes the binding rule in X-RateLimit-* and every rule in the IETF fields', () => {
    expect(rateLimitHeaders(decision([writes, burst], burst), NOW, 'both')).toEqual({
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '4',
      // Epoch seconds, rounded up: the rule is not reset before.
      'X-RateLimit-Reset': String(Math.ceil((NOW + 1_500) / 1000)),
      'RateLimit-Policy': '"writes";q=20;w=60, "writes-burst";q=5;w=10',
      RateLimit: '"writes";r=12;t=30, "writes-burst";r=4;t=2',
    });
  });

  it('writes structured-field lists', () => {
    const headers = rateLimitHeaders(decision([writes, burst, rule({})]), NOW, 'draft');
    expect(headers['RateLimit-Policy']).toMatch(SF_LIST);
    expect(headers['RateLimit']).toMatch(SF_LIST);
  });

  it('never shows a negative remaining or reset, and a window under a second as 1 s', () => {
    const odd = rule({ remaining: -2, resetAtMs: NOW - 5_000, windowMs: 500 });
    expect(rateLimitHeaders(decision([odd]), NOW, 'both')).toEqual({
      'X-RateLimit-Limit': '10',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String(Math.ceil((NOW - 5_000) / 1000)),
      'RateLimit-Policy': '"public";q=10;w=1',
      RateLimit: '"public";r=0;t=0',
    });
  });

  it('rounds a reset a fraction of a second away up to a whole second', () => {
    const headers = rateLimitHeaders(decision([rule({ resetAtMs: NOW + 1 })]), NOW, 'draft');
    expect(headers['RateLimit']).toBe('"public";r=3;t=1');
  });

  it.each([
    ['legacy', ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']],
    ['draft', ['RateLimit-Policy', 'RateLimit']],
    ['none', []],
  ] as const)('style %s sets only %j', (style, names) => {
    expect(Object.keys(rateLimitHeaders(decision([writes]), NOW, style))).toEqual(names);
  });

  it('adds Retry-After on a denial and the dry-run marker whatever the style', () => {
    const denied = rule({ allowed: false, remaining: 0, retryAfterMs: 6_500 });
    const dryRun = rule({ rule: 'shadow', mode: 'dry-run', allowed: false, remaining: 0 });
    expect(rateLimitHeaders(decision([denied]), NOW, 'none')).toEqual({ 'Retry-After': '7' });
    expect(rateLimitHeaders(decision([dryRun]), NOW, 'none')).toEqual({
      'X-RateLimit-Dry-Run': 'would-deny',
      'X-RateLimit-Remaining': '0',
    });
  });
});
