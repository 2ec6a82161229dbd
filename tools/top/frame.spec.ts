import type { Snapshot } from './admin-client.js';
import { buildFrame, duration, plainFrame, rateText } from './frame.js';

const snapshot = (at: number, allowed: number, denied: number, dryRunDenied = 0): Snapshot => ({
  at,
  rules: [
    {
      name: 'public',
      algorithm: 'sliding-window-log',
      limit: 10,
      windowMs: 60_000,
      mode: 'enforce',
      source: 'static',
    },
    {
      name: 'premium',
      algorithm: 'token-bucket',
      limit: 100,
      windowMs: 60_000,
      mode: 'dry-run',
      source: 'override',
      tiers: { free: 100, pro: 1000, enterprise: 'exempt' },
    },
  ],
  stats: {
    rules: {
      public: { allowed, denied, dryRunDenied: 0, topKeys: [{ key: 'aaaaaaaaaaaaaaaa', denied }] },
      premium: { allowed: 1, denied: 0, dryRunDenied },
    },
    store: { mode: 'redis', breaker: 'half-open' },
    config: 'redis',
  },
});

describe('buildFrame', () => {
  it('has no rates from a single reading', () => {
    const [row] = buildFrame(snapshot(0, 10, 2)).rows;
    expect(row).toMatchObject({
      allowed: 10,
      denied: 2,
      allowedPerSecond: undefined,
      deniedPerSecond: undefined,
    });
  });

  it('rates are the change between two readings over the time between them', () => {
    const [publicRow, premium] = buildFrame(snapshot(3_000, 40, 8, 6), snapshot(1_000, 10, 2)).rows;
    expect(publicRow).toMatchObject({ allowedPerSecond: 15, deniedPerSecond: 3 });
    // In dry-run, would-be denials are the denials.
    expect(premium).toMatchObject({ allowedPerSecond: 0, deniedPerSecond: 3 });
  });

  it('after an app restart (counters went down) counts everything since as new', () => {
    const [row] = buildFrame(snapshot(2_000, 4, 1), snapshot(1_000, 500, 20)).rows;
    expect(row).toMatchObject({ allowedPerSecond: 4, deniedPerSecond: 1 });
  });
});

describe('plainFrame', () => {
  it('writes the store line, then a line per rule starting with its name', () => {
    expect(plainFrame(buildFrame(snapshot(0, 10, 2, 5)))).toBe(
      'store=redis breaker=half-open config=redis\n' +
        'public algorithm=sliding-window-log limit=10 window=1m mode=enforce allowed=10 denied=2 dry_run_denied=0 top_keys=aaaaaaaaaaaaaaaa:2\n' +
        'premium algorithm=token-bucket limit=100 tiers=free:100,pro:1000,enterprise:exempt window=1m mode=dry-run allowed=1 denied=0 dry_run_denied=5 top_keys=-\n',
    );
  });
});

describe('duration and rateText', () => {
  it.each([
    [60_000, '1m'],
    [10_000, '10s'],
    [1_500, '1500ms'],
    [3_600_000, '1h'],
    [86_400_000, '1d'],
    [90_000, '90s'],
  ])('%d ms is %s', (ms, text) => expect(duration(ms)).toBe(text));

  it.each([
    [undefined, '-'],
    [0, '0'],
    [3, '3'],
    [2.97, '3.0'],
    [1234, '1.2k'],
    [45_678, '46k'],
  ])('%s per second is %s', (value, text) => expect(rateText(value)).toBe(text));
});
