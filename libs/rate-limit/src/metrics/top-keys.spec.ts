import { keyHash } from './throttle-log.js';

const SECRET = 'top-keys-spec-secret';
import { TopKeys } from './top-keys.js';

describe('TopKeys', () => {
  let now: number;
  const clock = () => now;
  const deny = (tracker: TopKeys, rule: string, identity: string, times = 1) => {
    for (let i = 0; i < times; i++) tracker.record(rule, identity);
  };

  beforeEach(() => {
    now = 1_700_000_000_000;
  });

  it('ranks callers by denials, most first, per rule, with hashed keys', () => {
    const tracker = new TopKeys({ secret: SECRET, clock });
    deny(tracker, 'public', 'ip=203.0.113.7', 5);
    deny(tracker, 'public', 'ip=198.51.100.1', 9);
    deny(tracker, 'public', 'key=secret-api-key', 2);
    deny(tracker, 'writes', 'ip=203.0.113.7', 1);

    expect(tracker.top('public')).toEqual([
      { key: keyHash(SECRET, 'ip=198.51.100.1'), denied: 9 },
      { key: keyHash(SECRET, 'ip=203.0.113.7'), denied: 5 },
      { key: keyHash(SECRET, 'key=secret-api-key'), denied: 2 },
    ]);
    expect(tracker.top('writes')).toEqual([{ key: keyHash(SECRET, 'ip=203.0.113.7'), denied: 1 }]);
    expect(tracker.top('premium')).toEqual([]);
    expect(JSON.stringify(tracker.top('public'))).not.toMatch(/203\.0|secret/);
  });

  it('returns at most `limit` callers', () => {
    const tracker = new TopKeys({ secret: SECRET, clock });
    for (let i = 0; i < 20; i++) deny(tracker, 'r', `ip=10.0.0.${i}`, i + 1);
    const top = tracker.top('r', 3);
    expect(top).toEqual([
      { key: keyHash(SECRET, 'ip=10.0.0.19'), denied: 20 },
      { key: keyHash(SECRET, 'ip=10.0.0.18'), denied: 19 },
      { key: keyHash(SECRET, 'ip=10.0.0.17'), denied: 18 },
    ]);
    expect(tracker.top('r')).toHaveLength(10);
  });

  it('sums the seconds of the last minute and forgets what is older', () => {
    const tracker = new TopKeys({ secret: SECRET, clock });
    deny(tracker, 'r', 'ip=a', 3);
    now += 30_000;
    deny(tracker, 'r', 'ip=a', 2);
    deny(tracker, 'r', 'ip=b', 4);
    expect(tracker.top('r')).toEqual([
      { key: keyHash(SECRET, 'ip=a'), denied: 5 },
      { key: keyHash(SECRET, 'ip=b'), denied: 4 },
    ]);

    now += 30_000; // the first 3 denials are now 60 s old
    expect(tracker.top('r')).toEqual([
      { key: keyHash(SECRET, 'ip=b'), denied: 4 },
      { key: keyHash(SECRET, 'ip=a'), denied: 2 },
    ]);
    now += 29_999;
    expect(tracker.top('r')).toHaveLength(2);
    now += 1;
    expect(tracker.top('r')).toEqual([]);
  });

  it('reuses a slot a minute later without carrying its old counts', () => {
    const tracker = new TopKeys({ secret: SECRET, clock });
    deny(tracker, 'r', 'ip=a', 7);
    now += 60_000; // same slot of the ring, a new second
    deny(tracker, 'r', 'ip=a', 1);
    expect(tracker.top('r')).toEqual([{ key: keyHash(SECRET, 'ip=a'), denied: 1 }]);
  });

  it('keeps a flood of distinct callers to a fixed number per second, heavy hitters included', () => {
    const tracker = new TopKeys({ secret: SECRET, clock, keysPerSecond: 8 });
    // One denial in four is the attacker's, among 3000 callers denied once each.
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 0) deny(tracker, 'r', 'ip=attacker');
      deny(tracker, 'r', `ip=10.${i >> 8}.${i & 255}.1`);
    }

    const top = tracker.top('r', 100);
    expect(top.length).toBeLessThanOrEqual(8);
    expect(top[0].key).toBe(keyHash(SECRET, 'ip=attacker'));
    // Never more than the attacker's 1000 denials, and at most 4000/8 fewer.
    expect(top[0].denied).toBeLessThanOrEqual(1000);
    expect(top[0].denied).toBeGreaterThanOrEqual(500);
    // The others were denied once each; the tracker never says more.
    for (const other of top.slice(1)) expect(other.denied).toBeLessThanOrEqual(1);
  });

  it('counts a very long identity under its hash, as short ones are shown', () => {
    const tracker = new TopKeys({ secret: SECRET, clock });
    const long = `key=${'x'.repeat(10_000)}`;
    deny(tracker, 'r', long, 3);
    expect(tracker.top('r')).toEqual([{ key: keyHash(SECRET, long), denied: 3 }]);
  });
});
