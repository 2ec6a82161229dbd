import type { Algorithm } from '../interfaces/index.js';
import { DenyCache } from './deny-cache.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';

const call = (
  key: string,
  algorithm: Algorithm = 'fixed-window',
  cost = 1,
  enforce = true,
): RuleCall => ({
  key,
  algorithm,
  limit: 10,
  windowMs: 60_000,
  cost,
  enforce,
});

const denied = (retryAfterMs: number, now = 1_000_000): StoreResult => ({
  now,
  outcomes: [{ allowed: false, remaining: 0, resetAtMs: now + 60_000, retryAfterMs }],
});

describe('DenyCache', () => {
  let time: number;
  const build = (options: { maxEntries?: number } = {}) =>
    new DenyCache({ clock: () => time, ...options });
  beforeEach(() => (time = 5_000));

  it('answers the same calls as denied until the retry time, with the times moved on', () => {
    const cache = build();
    cache.remember([call('a')], denied(30_000));
    time += 10_000;
    expect(cache.lookup([call('a')])).toEqual({
      now: 1_010_000,
      outcomes: [{ allowed: false, remaining: 0, resetAtMs: 1_060_000, retryAfterMs: 20_000 }],
    });
    time += 20_000;
    expect(cache.lookup([call('a')])).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.hits).toBe(1);
  });

  it('never keeps a concurrency denial, which a released lease ends at any moment', () => {
    const cache = build();
    cache.remember([call('c', 'concurrency')], denied(30_000));
    cache.remember([call('a'), call('c', 'concurrency')], {
      now: 0,
      outcomes: [
        ...denied(30_000).outcomes,
        { allowed: true, remaining: 1, resetAtMs: 0, retryAfterMs: 0 },
      ],
    });
    expect(cache.size).toBe(0);
  });

  it('matches only the same keys, limits, windows and costs', () => {
    const cache = build();
    cache.remember([call('a', 'token-bucket', 2)], denied(30_000));
    expect(cache.lookup([call('a', 'token-bucket', 1)])).toBeUndefined();
    expect(cache.lookup([{ ...call('a', 'token-bucket', 2), limit: 20 }])).toBeUndefined();
    expect(cache.lookup([call('b', 'token-bucket', 2)])).toBeUndefined();
    expect(cache.lookup([call('a', 'token-bucket', 2)])).toBeDefined();
  });

  it('keeps neither allowed answers, dry-run denials, costs above the limit, nor denials too short to matter', () => {
    const cache = build();
    cache.remember([call('a')], {
      now: 0,
      outcomes: [{ allowed: true, remaining: 3, resetAtMs: 0, retryAfterMs: 0 }],
    });
    cache.remember([call('b', 'fixed-window', 1, false)], denied(30_000));
    cache.remember([call('c')], denied(-1));
    cache.remember([call('d')], denied(10));
    expect(cache.size).toBe(0);
  });

  it('forgets the denials of reset keys, and everything on clear', () => {
    const cache = build();
    cache.remember([call('a')], denied(30_000));
    cache.remember([call('b')], denied(30_000));
    cache.forget(['a']);
    expect(cache.lookup([call('a')])).toBeUndefined();
    expect(cache.lookup([call('b')])).toBeDefined();
    cache.clear();
    expect(cache.lookup([call('b')])).toBeUndefined();
  });

  it('stays within maxEntries, dropping the oldest', () => {
    const cache = build({ maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) cache.remember([call(`k${i}`)], denied(30_000));
    expect(cache.size).toBe(100);
    expect(cache.lookup([call('k0')])).toBeUndefined();
    expect(cache.lookup([call('k999')])).toBeDefined();
  });
});
