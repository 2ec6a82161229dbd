import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';

/**
 * Hand-computed decisions for every algorithm: the one table the TypeScript algorithms, the
 * memory store and the Lua scripts are all held to. Times in a case (`at`, `resetAtMs`) are ms
 * after the case's `start`; `retryAfterMs` is a duration (0 allowed, -1 never).
 *
 * Token bucket, leaky bucket and GCRA count in integer sub-units: with g = gcd(limit, window),
 * one unit is window / g sub-units and limit / g sub-units refill (or drain) per ms. The comments
 * give those numbers where a case depends on them.
 */

export interface Expected {
  allowed: boolean;
  remaining: number;
  resetAtMs: number;
  retryAfterMs: number;
}

export interface RequestStep {
  at: number;
  cost: number;
  /** The rule's limit at this step, when an admin override changed it; default: the case's. */
  limit?: number;
  /** The rule's window at this step, when an admin override changed it; default: the case's. */
  windowMs?: number;
  /** Concurrency lease id; omitted: the algorithm picks an unused one. */
  lease?: string;
  /** Weighted token bucket: the request's class. */
  cls?: string;
  /** Weighted token bucket: the weights at this step, when an admin changed them; default: the case's. */
  weights?: Array<[string, number]>;
  expect: Expected;
}

/** Ends a concurrency lease (the response finished). */
export interface ReleaseStep {
  at: number;
  release: string;
}

export type Step = RequestStep | ReleaseStep;

export interface AlgorithmCase {
  name: string;
  limit: number;
  windowMs: number;
  /** Epoch ms that `at` and `resetAtMs` count from. @default T0 */
  start?: number;
  /** Weighted token bucket: the classes and their weights, sorted by class name. */
  weights?: Array<[string, number]>;
  /** Leaky bucket and GCRA: the rule's `maxDelay` (ms). */
  maxDelayMs?: number;
  steps: Step[];
}

/** The share a weighted step is decided with; `undefined` for other algorithms. */
export function stepShare(c: AlgorithmCase, step: RequestStep) {
  const weights = step.weights ?? c.weights;
  return weights && step.cls !== undefined ? { weights, cls: step.cls } : undefined;
}

/** Midnight UTC, 1 January 2026: a whole second, minute, hour and day. */
export const T0 = Date.UTC(2026, 0, 1);

export const DAYS_31 = 2_678_400_000;
export const MAX_LIMIT = 1_000_000_000;

const ok = (remaining: number, resetAtMs: number): Expected => ({
  allowed: true,
  remaining,
  resetAtMs,
  retryAfterMs: 0,
});
/** Admitted into a shaped slot: the request proceeds `waitMs` later. */
const held = (remaining: number, resetAtMs: number, waitMs: number): Expected => ({
  allowed: true,
  remaining,
  resetAtMs,
  retryAfterMs: waitMs,
});
const no = (remaining: number, resetAtMs: number, retryAfterMs: number): Expected => ({
  allowed: false,
  remaining,
  resetAtMs,
  retryAfterMs,
});

export const isRelease = (step: Step): step is ReleaseStep => 'release' in step;

export const ALGORITHM_CASES: Readonly<Record<Algorithm, readonly AlgorithmCase[]>> = {
  'fixed-window': [
    {
      name: 'admits the limit per window and resets at the window end',
      limit: 3,
      windowMs: 60_000,
      steps: [
        { at: 0, cost: 1, expect: ok(2, 60_000) },
        { at: 1_000, cost: 1, expect: ok(1, 60_000) },
        { at: 2_000, cost: 1, expect: ok(0, 60_000) },
        { at: 3_000, cost: 1, expect: no(0, 60_000, 57_000) },
        // The last ms of the window is still the window.
        { at: 59_999, cost: 1, expect: no(0, 60_000, 1) },
        // The ms the window ends starts the next one.
        { at: 60_000, cost: 1, expect: ok(2, 120_000) },
      ],
    },
    {
      name: 'aligns windows to the clock: a 60 s window starts at a whole minute',
      limit: 2,
      windowMs: 60_000,
      start: T0 + 42_500,
      steps: [
        // The window began 42.5 s ago, at the whole minute, and ends 17.5 s from now.
        { at: 0, cost: 1, expect: ok(1, 17_500) },
        { at: 17_499, cost: 1, expect: ok(0, 17_500) },
        { at: 17_499, cost: 1, expect: no(0, 17_500, 1) },
        { at: 17_500, cost: 2, expect: ok(0, 77_500) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 999, cost: 1, expect: no(0, 1_000, 1) },
        { at: 1_000, cost: 1, expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'cost equal to the limit takes the whole window',
      limit: 5,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 5, expect: ok(0, 10_000) },
        { at: 1, cost: 1, expect: no(0, 10_000, 9_999) },
        { at: 10_000, cost: 5, expect: ok(0, 20_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted and charges nothing',
      limit: 5,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 6, expect: no(5, 10_000, -1) },
        { at: 0, cost: 2, expect: ok(3, 10_000) },
        { at: 10_000, cost: 6, expect: no(5, 20_000, -1) },
      ],
    },
    {
      name: 'window of 1 ms',
      limit: 2,
      windowMs: 1,
      steps: [
        { at: 0, cost: 2, expect: ok(0, 1) },
        { at: 0, cost: 1, expect: no(0, 1, 1) },
        { at: 1, cost: 1, expect: ok(1, 2) },
      ],
    },
    {
      name: '31-day window and a limit of 1e9, aligned to the epoch',
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      // T0 is 659 windows and 25 days after the epoch: this window ends 6 days after T0.
      steps: [
        { at: 0, cost: MAX_LIMIT - 1, expect: ok(1, 518_400_000) },
        { at: 1_000, cost: 2, expect: no(1, 518_400_000, 518_399_000) },
        { at: 1_000, cost: 1, expect: ok(0, 518_400_000) },
        { at: 518_400_000, cost: MAX_LIMIT, expect: ok(0, 518_400_000 + DAYS_31) },
      ],
    },
    {
      name: 'a clock that goes back keeps the later window',
      limit: 2,
      windowMs: 60_000,
      steps: [
        { at: 60_000, cost: 1, expect: ok(1, 120_000) },
        { at: 30_000, cost: 1, expect: ok(0, 120_000) },
        { at: 30_000, cost: 1, expect: no(0, 120_000, 90_000) },
      ],
    },
    {
      name: 'cost 0 looks without charging, even at the limit',
      limit: 3,
      windowMs: 60_000,
      steps: [
        { at: 0, cost: 0, expect: ok(3, 60_000) },
        { at: 1, cost: 2, expect: ok(1, 60_000) },
        { at: 2, cost: 0, expect: ok(1, 60_000) },
        { at: 3, cost: 1, expect: ok(0, 60_000) },
        { at: 4, cost: 0, expect: ok(0, 60_000) },
        { at: 5, cost: 1, expect: no(0, 60_000, 59_995) },
      ],
    },
    {
      name: 'a limit lowered below what was used leaves 0, not less',
      limit: 5,
      windowMs: 60_000,
      steps: [
        { at: 0, cost: 4, expect: ok(1, 60_000) },
        { at: 1, cost: 1, limit: 2, expect: no(0, 60_000, 59_999) },
      ],
    },
  ],

  'sliding-window-log': [
    {
      name: 'admits the limit in any window; each request frees its unit one window later',
      limit: 3,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 1, expect: ok(2, 10_000) },
        { at: 4_000, cost: 1, expect: ok(1, 14_000) },
        { at: 6_000, cost: 1, expect: ok(0, 16_000) },
        { at: 9_999, cost: 1, expect: no(0, 16_000, 1) },
        // The request at 0 leaves the window at exactly 10 000.
        { at: 10_000, cost: 1, expect: ok(0, 20_000) },
        // Two units are needed: the requests at 4 000 and 6 000 must leave.
        { at: 10_001, cost: 2, expect: no(0, 20_000, 5_999) },
        { at: 16_000, cost: 2, expect: ok(0, 26_000) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 500, cost: 1, expect: no(0, 1_000, 500) },
        { at: 1_000, cost: 1, expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'cost equal to the limit',
      limit: 4,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 4, expect: ok(0, 5_000) },
        { at: 4_999, cost: 1, expect: no(0, 5_000, 1) },
        { at: 5_000, cost: 4, expect: ok(0, 10_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted and charges nothing',
      limit: 4,
      windowMs: 5_000,
      steps: [
        // Nothing logged: already fully reset.
        { at: 0, cost: 5, expect: no(4, 0, -1) },
        { at: 0, cost: 1, expect: ok(3, 5_000) },
        { at: 100, cost: 5, expect: no(3, 5_000, -1) },
      ],
    },
    {
      name: 'window of 1 ms',
      limit: 2,
      windowMs: 1,
      steps: [
        { at: 0, cost: 1, expect: ok(1, 1) },
        { at: 0, cost: 1, expect: ok(0, 1) },
        { at: 0, cost: 1, expect: no(0, 1, 1) },
        { at: 1, cost: 2, expect: ok(0, 2) },
      ],
    },
    {
      name: '31-day window and a limit of 1e9',
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      steps: [
        { at: 0, cost: MAX_LIMIT - 1, expect: ok(1, DAYS_31) },
        { at: DAYS_31 - 1, cost: 2, expect: no(1, DAYS_31, 1) },
        { at: DAYS_31 - 1, cost: 1, expect: ok(0, 2 * DAYS_31 - 1) },
        // The big request left; the 1 unit logged a ms before the window ended still counts.
        { at: DAYS_31, cost: MAX_LIMIT, expect: no(MAX_LIMIT - 1, 2 * DAYS_31 - 1, DAYS_31 - 1) },
      ],
    },
    {
      name: 'a clock that goes back still counts later requests; each leaves by its own time',
      limit: 2,
      windowMs: 10_000,
      steps: [
        { at: 5_000, cost: 1, expect: ok(1, 15_000) },
        { at: 1_000, cost: 1, expect: ok(0, 15_000) },
        // The request logged at 1 000 has left; the one at 5 000 has not.
        { at: 12_000, cost: 1, expect: ok(0, 22_000) },
        { at: 12_000, cost: 1, expect: no(0, 22_000, 3_000) },
      ],
    },
    {
      name: 'cost 0 looks without logging',
      limit: 2,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 0, expect: ok(2, 0) },
        { at: 1, cost: 1, expect: ok(1, 10_001) },
        { at: 2, cost: 0, expect: ok(1, 10_001) },
        { at: 3, cost: 1, expect: ok(0, 10_003) },
        { at: 4, cost: 0, expect: ok(0, 10_003) },
      ],
    },
    {
      name: 'a changed limit or window applies to the requests already logged',
      limit: 5,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 3, expect: ok(2, 10_000) },
        // 3 logged against a limit of 2: the request at 0 must leave first.
        { at: 1, cost: 1, limit: 2, expect: no(0, 10_000, 9_999) },
        { at: 2, cost: 1, windowMs: 1_000, expect: ok(1, 1_002) },
      ],
    },
    {
      name: 'costs of 1: the retry waits for the needed-th oldest request to leave',
      limit: 5,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 1, expect: ok(4, 10_000) },
        { at: 0, cost: 1, expect: ok(3, 10_000) },
        { at: 100, cost: 1, expect: ok(2, 10_100) },
        { at: 200, cost: 1, expect: ok(1, 10_200) },
        { at: 200, cost: 1, expect: ok(0, 10_200) },
        { at: 300, cost: 1, expect: no(0, 10_200, 9_700) },
        // The second oldest was logged in the same ms as the first.
        { at: 300, cost: 2, expect: no(0, 10_200, 9_700) },
        { at: 300, cost: 3, expect: no(0, 10_200, 9_800) },
        { at: 300, cost: 5, expect: no(0, 10_200, 9_900) },
        { at: 10_000, cost: 2, expect: ok(0, 20_000) },
      ],
    },
    {
      name: 'mixed costs: the retry waits until the oldest that leave sum to what is needed',
      limit: 10,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 3, expect: ok(7, 10_000) },
        { at: 1_000, cost: 1, expect: ok(6, 11_000) },
        { at: 2_000, cost: 4, expect: ok(2, 12_000) },
        { at: 3_000, cost: 2, expect: ok(0, 13_000) },
        // 1 needed: the 3 at 0 free it.
        { at: 4_000, cost: 1, expect: no(0, 13_000, 6_000) },
        // 5 needed: 3 + 1 are not enough, 3 + 1 + 4 are.
        { at: 4_000, cost: 5, expect: no(0, 13_000, 8_000) },
        { at: 4_000, cost: 10, expect: no(0, 13_000, 9_000) },
        { at: 10_000, cost: 3, expect: ok(0, 20_000) },
        // The 1 at 1 000 has left: 9 used, 1 more needed, freed when the 4 at 2 000 leave.
        { at: 11_000, cost: 2, expect: no(1, 20_000, 1_000) },
      ],
    },
    {
      name: 'many requests leaving at once, with mixed costs',
      // 100 requests, one per ms, costing 1 and 2 in turn: 150 units.
      limit: 150,
      windowMs: 10_000,
      steps: [
        ...Array.from({ length: 100 }, (_, i) => ({
          at: i,
          cost: 1 + (i % 2),
          // 3 units per pair logged before, and this one's.
          expect: ok(150 - Math.floor(i / 2) * 3 - 1 - (i % 2) * 2, 10_000 + i),
        })),
        { at: 5_000, cost: 1, expect: no(0, 10_099, 5_000) },
        // 4 needed: the requests at 0, 1 and 2 (1 + 2 + 1).
        { at: 5_000, cost: 4, expect: no(0, 10_099, 5_002) },
        // All but the last two (1 + 2) have left.
        { at: 10_097, cost: 147, expect: ok(0, 20_097) },
        { at: 10_098, cost: 1, expect: ok(0, 20_098) },
        // The 2 at 99 left; 148 used, 1 more needed: the 147 must leave.
        { at: 10_099, cost: 3, expect: no(2, 20_098, 9_998) },
      ],
    },
    {
      name: 'a limit lowered below what was used, with mixed costs, waits for enough to leave',
      limit: 10,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 4, expect: ok(6, 10_000) },
        { at: 1, cost: 3, expect: ok(3, 10_001) },
        { at: 2, cost: 2, expect: ok(1, 10_002) },
        // 9 used against 4: 6 must leave, the 4 at 0 and the 3 at 1.
        { at: 3, cost: 1, limit: 4, expect: no(0, 10_002, 9_998) },
        { at: 10_001, cost: 1, limit: 4, expect: ok(1, 20_001) },
      ],
    },
  ],

  'sliding-window-counter': [
    {
      name: 'weights the previous window by its overlap; retries land on the first admitting ms',
      limit: 10,
      windowMs: 60_000,
      steps: [
        { at: 0, cost: 4, expect: ok(6, 120_000) },
        { at: 30_000, cost: 6, expect: ok(0, 120_000) },
        // Next window at 60 000 counts the 10 fully; at 60 001 floor(10 * 59 999 / 60 000) = 9.
        { at: 59_999, cost: 1, expect: no(0, 120_000, 2) },
        { at: 60_000, cost: 1, expect: no(0, 120_000, 1) },
        // Half-way through: floor(10 * 30 000 / 60 000) = 5 of the previous window.
        { at: 90_000, cost: 3, expect: ok(2, 180_000) },
        // 5 + 3 + 3 > 10 until the weight drops to 4, at 90 001.
        { at: 90_000, cost: 3, expect: no(2, 180_000, 1) },
        // Previous window 3, weight floor(3 * 30 000 / 60 000) = 1; it reaches 0 at 160 001.
        { at: 150_000, cost: 10, expect: no(9, 180_000, 10_001) },
        { at: 180_000, cost: 10, expect: ok(0, 300_000) },
      ],
    },
    {
      name: 'aligns windows to the clock: a 60 s window starts at a whole minute',
      limit: 2,
      windowMs: 60_000,
      start: T0 + 42_500,
      steps: [
        // The window began 42.5 s ago; its count weighs until the end of the next one.
        { at: 0, cost: 2, expect: ok(0, 77_500) },
        // At the whole minute the 2 still weigh 2; one ms later floor(2 * 59 999 / 60 000) = 1.
        { at: 17_499, cost: 1, expect: no(0, 77_500, 2) },
        { at: 17_501, cost: 1, expect: ok(0, 137_500) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(0, 2_000) },
        { at: 999, cost: 1, expect: no(0, 2_000, 2) },
        { at: 1_000, cost: 1, expect: no(0, 2_000, 1) },
        { at: 1_001, cost: 1, expect: ok(0, 3_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted; cost equal to the limit is',
      limit: 5,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 6, expect: no(5, 0, -1) },
        { at: 0, cost: 5, expect: ok(0, 20_000) },
        { at: 100, cost: 6, expect: no(0, 20_000, -1) },
      ],
    },
    {
      name: 'window of 1 ms',
      limit: 3,
      windowMs: 1,
      steps: [
        { at: 0, cost: 3, expect: ok(0, 2) },
        // At 1 the previous window still weighs 3; at 2 it is two windows old.
        { at: 0, cost: 1, expect: no(0, 2, 2) },
        { at: 2, cost: 3, expect: ok(0, 4) },
      ],
    },
    {
      name: '31-day window and a limit of 1e9, aligned to the epoch',
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      // T0 is 25 days into its window, which ends 518 400 000 ms after T0.
      steps: [
        { at: 0, cost: MAX_LIMIT, expect: ok(0, 518_400_000 + DAYS_31) },
        { at: 518_400_000, cost: 1, expect: no(0, 518_400_000 + DAYS_31, 1) },
        // Half-way through the next window the previous one weighs 5e8.
        {
          at: 518_400_000 + DAYS_31 / 2,
          cost: 500_000_000,
          expect: ok(0, 518_400_000 + 2 * DAYS_31),
        },
        { at: 518_400_000 + DAYS_31 / 2, cost: 1, expect: no(0, 518_400_000 + 2 * DAYS_31, 1) },
      ],
    },
    {
      name: 'a clock that goes back keeps the later window',
      limit: 4,
      windowMs: 60_000,
      steps: [
        { at: 60_000, cost: 3, expect: ok(1, 180_000) },
        { at: 30_000, cost: 1, expect: ok(0, 180_000) },
        // Admitted once the window after the later one has started and the weight drops to 3.
        { at: 30_000, cost: 1, expect: no(0, 180_000, 90_001) },
      ],
    },
    {
      name: 'cost 0 looks without charging',
      limit: 2,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 0, expect: ok(2, 0) },
        { at: 1, cost: 2, expect: ok(0, 20_000) },
        { at: 2, cost: 0, expect: ok(0, 20_000) },
        // Room once the next window starts at 10 000 and the 2 weigh 1, at 10 001.
        { at: 3, cost: 1, expect: no(0, 20_000, 9_998) },
      ],
    },
    {
      name: 'a limit lowered below what was used leaves 0 and waits for the weight to fall',
      limit: 5,
      windowMs: 60_000,
      steps: [
        { at: 0, cost: 4, expect: ok(1, 120_000) },
        // The 4 must weigh 1 at most: floor(4 * 29 999 / 60 000) = 1 at 90 001.
        { at: 1, cost: 1, limit: 2, expect: no(0, 120_000, 90_000) },
      ],
    },
  ],

  'token-bucket': [
    {
      name: 'starts full, refills one token per 100 ms, retries on the ms a token is back',
      // 1 token = 100 sub-units, 1 sub-unit per ms.
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(9, 100) },
        { at: 0, cost: 9, expect: ok(0, 1_000) },
        { at: 0, cost: 1, expect: no(0, 1_000, 100) },
        { at: 99, cost: 1, expect: no(0, 1_000, 1) },
        { at: 100, cost: 1, expect: ok(0, 1_100) },
        { at: 350, cost: 2, expect: ok(0, 1_300) },
        { at: 350, cost: 1, expect: no(0, 1_300, 50) },
        { at: 1_300, cost: 10, expect: ok(0, 2_300) },
      ],
    },
    {
      name: 'a refill that is not a whole number of ms per token stays exact',
      // 3 per 10 s: 1 token = 10 000 sub-units, 3 sub-units per ms (3 333.3 ms per token).
      limit: 3,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 3, expect: ok(0, 10_000) },
        { at: 3_333, cost: 1, expect: no(0, 10_000, 1) },
        { at: 3_334, cost: 1, expect: ok(0, 13_334) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 999, cost: 1, expect: no(0, 1_000, 1) },
        { at: 1_000, cost: 1, expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted; cost equal to the limit is',
      limit: 5,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 6, expect: no(5, 0, -1) },
        { at: 0, cost: 5, expect: ok(0, 5_000) },
        { at: 2_500, cost: 6, expect: no(2, 5_000, -1) },
      ],
    },
    {
      name: 'window of 1 ms',
      // 1 token = 1 sub-unit, 2 per ms.
      limit: 2,
      windowMs: 1,
      steps: [
        { at: 0, cost: 2, expect: ok(0, 1) },
        { at: 0, cost: 1, expect: no(0, 1, 1) },
        { at: 1, cost: 2, expect: ok(0, 2) },
      ],
    },
    {
      name: '31-day window and a limit of 1e9',
      // gcd 1 600 000: 1 token = 1 674 sub-units, 625 per ms; full bucket 1.674e12.
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      steps: [
        { at: 0, cost: MAX_LIMIT, expect: ok(0, DAYS_31) },
        // A thousandth of the window refills exactly 1e6 tokens.
        { at: 2_678_400, cost: 1_000_000, expect: ok(0, 2_678_400 + DAYS_31) },
        { at: 2_678_400, cost: 1, expect: no(0, 2_678_400 + DAYS_31, 3) },
        { at: 2_678_403, cost: 1, expect: ok(0, 2_678_403 + DAYS_31) },
      ],
    },
    {
      name: 'a clock that goes back neither refills nor answers earlier than the count allows',
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 500, cost: 10, expect: ok(0, 1_500) },
        { at: 0, cost: 1, expect: no(0, 1_500, 600) },
        { at: 600, cost: 1, expect: ok(0, 1_600) },
      ],
    },
    {
      name: 'cost 0 looks without charging',
      limit: 5,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 0, expect: ok(5, 0) },
        { at: 1, cost: 2, expect: ok(3, 2_001) },
        { at: 1_001, cost: 0, expect: ok(4, 2_001) },
        { at: 1_002, cost: 4, expect: ok(0, 6_001) },
        { at: 1_003, cost: 0, expect: ok(0, 6_001) },
      ],
    },
    {
      name: 'a changed limit or window keeps the tokens left, capped at the new capacity',
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 4, expect: ok(6, 400) },
        // 6 tokens = 300 sub-units of 50 under 20 per second.
        { at: 0, cost: 1, limit: 20, expect: ok(5, 750) },
        // 5 tokens, capped at 3 under 3 per 10 s (10 000 sub-units each, 3 per ms).
        { at: 0, cost: 1, limit: 3, windowMs: 10_000, expect: ok(2, 3_334) },
      ],
    },
  ],

  'leaky-bucket': [
    {
      // 1 unit is 500 sub-units, 1 drains per ms; the queue may hold 1 000 ms of drain above 2.
      name: 'maxDelay: admits above the burst into a queue, each waiting for its slot, in order',
      limit: 2,
      windowMs: 1_000,
      maxDelayMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(1, 500) },
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 0, cost: 1, expect: held(0, 1_500, 500) },
        { at: 0, cost: 1, expect: held(0, 2_000, 1_000) },
        // The queue is 1 000 ms deep: this one would wait 1 500 ms. Its slot frees at 500.
        { at: 0, cost: 1, expect: no(0, 2_000, 500) },
        { at: 500, cost: 1, expect: held(0, 2_500, 1_000) },
        { at: 2_500, cost: 1, expect: ok(1, 3_000) },
        { at: 3_000, cost: 3, expect: no(2, 3_000, -1) },
      ],
    },
    {
      name: 'starts empty, drains one unit per 100 ms, retries on the ms there is room',
      // 1 unit = 100 sub-units, 1 sub-unit drains per ms.
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(9, 100) },
        { at: 0, cost: 9, expect: ok(0, 1_000) },
        { at: 0, cost: 1, expect: no(0, 1_000, 100) },
        { at: 99, cost: 1, expect: no(0, 1_000, 1) },
        { at: 100, cost: 1, expect: ok(0, 1_100) },
        { at: 350, cost: 2, expect: ok(0, 1_300) },
        { at: 350, cost: 1, expect: no(0, 1_300, 50) },
        { at: 1_300, cost: 10, expect: ok(0, 2_300) },
      ],
    },
    {
      name: 'a drain that is not a whole number of ms per unit stays exact',
      // 3 per 1 s: 1 unit = 1 000 sub-units, 3 drain per ms.
      limit: 3,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 3, expect: ok(0, 1_000) },
        // 3 sub-units (0.003 of a unit) still in the bucket.
        { at: 999, cost: 3, expect: no(2, 1_000, 1) },
        { at: 1_000, cost: 3, expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 999, cost: 1, expect: no(0, 1_000, 1) },
        { at: 1_000, cost: 1, expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted; cost equal to the limit is',
      limit: 5,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 6, expect: no(5, 0, -1) },
        { at: 0, cost: 5, expect: ok(0, 5_000) },
        { at: 2_500, cost: 6, expect: no(2, 5_000, -1) },
      ],
    },
    {
      name: 'window of 1 ms',
      limit: 2,
      windowMs: 1,
      steps: [
        { at: 0, cost: 2, expect: ok(0, 1) },
        { at: 0, cost: 1, expect: no(0, 1, 1) },
        { at: 1, cost: 2, expect: ok(0, 2) },
      ],
    },
    {
      name: '31-day window and a limit of 1e9',
      // gcd 1 600 000: 1 unit = 1 674 sub-units, 625 drain per ms.
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      steps: [
        { at: 0, cost: MAX_LIMIT, expect: ok(0, DAYS_31) },
        { at: 2_678_400, cost: 1_000_000, expect: ok(0, 2_678_400 + DAYS_31) },
        { at: 2_678_400, cost: 1, expect: no(0, 2_678_400 + DAYS_31, 3) },
        { at: 2_678_403, cost: 1, expect: ok(0, 2_678_403 + DAYS_31) },
      ],
    },
    {
      name: 'a clock that goes back neither drains nor answers earlier than the level allows',
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 500, cost: 10, expect: ok(0, 1_500) },
        { at: 0, cost: 1, expect: no(0, 1_500, 600) },
        { at: 600, cost: 1, expect: ok(0, 1_600) },
      ],
    },
    {
      name: 'cost 0 looks without charging',
      limit: 5,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 0, expect: ok(5, 0) },
        { at: 1, cost: 2, expect: ok(3, 2_001) },
        { at: 1_001, cost: 0, expect: ok(4, 2_001) },
        { at: 1_002, cost: 4, expect: ok(0, 6_001) },
        { at: 1_003, cost: 0, expect: ok(0, 6_001) },
      ],
    },
    {
      name: 'a changed limit or window keeps the level; above a lowered limit it leaves 0',
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 4, expect: ok(6, 400) },
        // 4 units = 200 sub-units of 50 under 20 per second.
        { at: 0, cost: 1, limit: 20, expect: ok(15, 250) },
        // 5 units in a bucket of 3: 3 must drain (30 000 sub-units at 3 per ms) before 1 fits.
        { at: 0, cost: 1, limit: 3, windowMs: 10_000, expect: no(0, 16_667, 10_000) },
      ],
    },
  ],

  gcra: [
    {
      // Emission interval 500 ms (1 unit = 500 sub-units, 1 per ms); the TAT may run 1 000 ms
      // past the burst.
      name: 'maxDelay: admits with the TAT ahead, each request waiting for its slot, in order',
      limit: 2,
      windowMs: 1_000,
      maxDelayMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(1, 500) },
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 0, cost: 1, expect: held(0, 1_500, 500) },
        { at: 0, cost: 1, expect: held(0, 2_000, 1_000) },
        { at: 0, cost: 1, expect: no(0, 2_000, 500) },
        { at: 0, cost: 0, expect: ok(0, 2_000) },
        { at: 500, cost: 1, expect: held(0, 2_500, 1_000) },
        { at: 2_500, cost: 1, expect: ok(1, 3_000) },
        { at: 3_000, cost: 3, expect: no(2, 3_000, -1) },
      ],
    },
    {
      name: 'admits a burst of exactly the limit, then one per emission interval',
      // 3 per 10 s: 1 request = 10 000 sub-units, 3 per ms (3 333.3 ms apart).
      limit: 3,
      windowMs: 10_000,
      steps: [
        { at: 0, cost: 1, expect: ok(2, 3_334) },
        { at: 0, cost: 1, expect: ok(1, 6_667) },
        { at: 0, cost: 1, expect: ok(0, 10_000) },
        { at: 0, cost: 1, expect: no(0, 10_000, 3_334) },
        { at: 3_333, cost: 1, expect: no(0, 10_000, 1) },
        { at: 3_334, cost: 1, expect: ok(0, 13_334) },
        { at: 13_334, cost: 3, expect: ok(0, 23_334) },
      ],
    },
    {
      name: 'an emission interval far below a float timestamp precision (1e9 per second)',
      // 1 request = 1 sub-unit, 1e6 per ms.
      limit: MAX_LIMIT,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(MAX_LIMIT - 1, 1) },
        { at: 0, cost: MAX_LIMIT - 1, expect: ok(0, 1_000) },
        { at: 0, cost: 1, expect: no(0, 1_000, 1) },
        { at: 1, cost: 1_000_000, expect: ok(0, 1_001) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 999, cost: 1, expect: no(0, 1_000, 1) },
        { at: 1_000, cost: 1, expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted; cost equal to the limit is',
      limit: 5,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 6, expect: no(5, 0, -1) },
        { at: 0, cost: 5, expect: ok(0, 5_000) },
        { at: 2_500, cost: 6, expect: no(2, 5_000, -1) },
      ],
    },
    {
      name: 'window of 1 ms',
      limit: 2,
      windowMs: 1,
      steps: [
        { at: 0, cost: 2, expect: ok(0, 1) },
        { at: 0, cost: 1, expect: no(0, 1, 1) },
        { at: 1, cost: 2, expect: ok(0, 2) },
      ],
    },
    {
      name: '31-day window and a limit of 1e9',
      // gcd 1 600 000: 1 request = 1 674 sub-units, 625 per ms.
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      steps: [
        { at: 0, cost: MAX_LIMIT, expect: ok(0, DAYS_31) },
        { at: 2_678_400, cost: 1_000_000, expect: ok(0, 2_678_400 + DAYS_31) },
        { at: 2_678_400, cost: 1, expect: no(0, 2_678_400 + DAYS_31, 3) },
        { at: 2_678_403, cost: 1, expect: ok(0, 2_678_403 + DAYS_31) },
      ],
    },
    {
      name: 'a clock that goes back finds the arrival time further ahead',
      limit: 10,
      windowMs: 1_000,
      steps: [
        { at: 500, cost: 10, expect: ok(0, 1_500) },
        { at: 0, cost: 1, expect: no(0, 1_500, 600) },
        { at: 600, cost: 1, expect: ok(0, 1_600) },
      ],
    },
    {
      name: 'cost 0 looks without charging',
      limit: 5,
      windowMs: 5_000,
      steps: [
        { at: 0, cost: 0, expect: ok(5, 0) },
        { at: 1, cost: 2, expect: ok(3, 2_001) },
        { at: 1_001, cost: 0, expect: ok(4, 2_001) },
        { at: 1_002, cost: 4, expect: ok(0, 6_001) },
        { at: 1_003, cost: 0, expect: ok(0, 6_001) },
      ],
    },
    {
      name: 'a changed limit keeps the arrival time, its fraction rounded up in the new units',
      limit: 3,
      windowMs: 10_000,
      steps: [
        // TAT 3 333 + 1/3 ms.
        { at: 0, cost: 1, expect: ok(2, 3_334) },
        // Under 7 per 10 s the TAT is 3 333 + 3/7 ms; one more interval (10 000 / 7) ends at 4 762.
        { at: 0, cost: 1, limit: 7, expect: ok(3, 4_762) },
      ],
    },
  ],

  concurrency: [
    {
      name: 'holds up to the limit in flight; a release or an expired lease frees a slot',
      limit: 2,
      windowMs: 30_000,
      steps: [
        { at: 0, cost: 1, lease: 'a', expect: ok(1, 30_000) },
        { at: 10, cost: 1, lease: 'b', expect: ok(0, 30_010) },
        // The retry hint is capped at 1 s: leases usually end long before they expire.
        { at: 20, cost: 1, lease: 'c', expect: no(0, 30_010, 1_000) },
        { at: 30, release: 'a' },
        { at: 40, cost: 1, lease: 'c', expect: ok(0, 30_040) },
        // Lease b expires at exactly 30 010.
        { at: 30_010, cost: 1, lease: 'd', expect: ok(0, 60_010) },
        { at: 30_020, cost: 1, lease: 'e', expect: no(0, 60_010, 20) },
        { at: 30_040, cost: 1, lease: 'e', expect: ok(0, 60_040) },
      ],
    },
    {
      name: 'limit 1',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, lease: 'a', expect: ok(0, 1_000) },
        { at: 500, cost: 1, lease: 'b', expect: no(0, 1_000, 500) },
        { at: 1_000, cost: 1, lease: 'b', expect: ok(0, 2_000) },
      ],
    },
    {
      name: 'cost above the limit is never admitted',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 2, lease: 'a', expect: no(1, 0, -1) },
        { at: 0, cost: 1, lease: 'a', expect: ok(0, 1_000) },
      ],
    },
    {
      name: 'a lease taken again is extended, not counted twice',
      limit: 2,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, lease: 'a', expect: ok(1, 1_000) },
        { at: 500, cost: 1, lease: 'a', expect: ok(1, 1_500) },
        { at: 600, cost: 1, lease: 'b', expect: ok(0, 1_600) },
      ],
    },
    {
      name: 'requests without a lease id each hold a slot until it expires',
      limit: 2,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, expect: ok(1, 1_000) },
        { at: 0, cost: 1, expect: ok(0, 1_000) },
        { at: 0, cost: 1, expect: no(0, 1_000, 1_000) },
        { at: 1_000, cost: 1, expect: ok(1, 2_000) },
      ],
    },
    {
      name: 'window of 1 ms',
      limit: 1,
      windowMs: 1,
      steps: [
        { at: 0, cost: 1, lease: 'a', expect: ok(0, 1) },
        { at: 0, cost: 1, lease: 'b', expect: no(0, 1, 1) },
        { at: 1, cost: 1, lease: 'b', expect: ok(0, 2) },
      ],
    },
    {
      name: '31-day lease timeout and a limit of 1e9',
      limit: MAX_LIMIT,
      windowMs: DAYS_31,
      steps: [
        { at: 0, cost: 1, lease: 'a', expect: ok(MAX_LIMIT - 1, DAYS_31) },
        { at: 1_000, cost: 0, expect: ok(MAX_LIMIT - 1, DAYS_31) },
      ],
    },
    {
      name: 'a clock that goes back still sees leases that expire later',
      limit: 1,
      windowMs: 1_000,
      steps: [
        { at: 5_000, cost: 1, lease: 'a', expect: ok(0, 6_000) },
        { at: 1_000, cost: 1, lease: 'b', expect: no(0, 6_000, 1_000) },
        { at: 6_000, cost: 1, lease: 'b', expect: ok(0, 7_000) },
      ],
    },
    {
      name: 'cost 0 looks without taking a lease',
      limit: 2,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 0, expect: ok(2, 0) },
        { at: 1, cost: 1, lease: 'a', expect: ok(1, 1_001) },
        { at: 2, cost: 0, expect: ok(1, 1_001) },
      ],
    },
    {
      name: 'a limit lowered below the leases held leaves 0 and waits for enough of them to end',
      limit: 3,
      windowMs: 1_000,
      steps: [
        { at: 0, cost: 1, lease: 'a', expect: ok(2, 1_000) },
        { at: 0, cost: 1, lease: 'b', expect: ok(1, 1_000) },
        { at: 1, cost: 1, lease: 'c', limit: 1, expect: no(0, 1_000, 999) },
      ],
    },
  ],
  'weighted-token-bucket': [
    {
      // limit 40 per 1 s, high 3 and low 1 (W = 4): g = 40, a token is 100 sub-units, high refills
      // 3 and low 1 sub-unit per ms; reserves 3,000 (30 tokens) and 1,000 (10), 4,000 in all.
      name: 'gives each class its reserve under contention, refilled 3:1',
      limit: 40,
      windowMs: 1_000,
      weights: [
        ['high', 3],
        ['low', 1],
      ],
      steps: [
        { at: 0, cost: 1, cls: 'high', expect: ok(29, 25) },
        { at: 0, cost: 10, cls: 'low', expect: ok(0, 275) },
        { at: 0, cost: 1, cls: 'low', expect: no(0, 275, 100) },
        { at: 0, cost: 29, cls: 'high', expect: ok(0, 1_000) },
        { at: 0, cost: 1, cls: 'high', expect: no(0, 1_000, 34) },
        { at: 100, cost: 1, cls: 'low', expect: ok(0, 1_025) },
        { at: 100, cost: 3, cls: 'high', expect: ok(0, 1_100) },
      ],
    },
    {
      // At 500 ms high has refilled 1,500; low's full reserve spilled 500 into the pool.
      name: 'lets a class alone take what the others spill, and keeps their reserve for them',
      limit: 40,
      windowMs: 1_000,
      weights: [
        ['high', 3],
        ['low', 1],
      ],
      steps: [
        { at: 0, cost: 30, cls: 'high', expect: ok(0, 750) },
        { at: 0, cost: 1, cls: 'high', expect: no(0, 750, 34) },
        { at: 500, cost: 20, cls: 'high', expect: ok(0, 1_250) },
        { at: 500, cost: 10, cls: 'low', expect: ok(0, 1_500) },
        { at: 500, cost: 1, cls: 'low', expect: no(0, 1_500, 100) },
      ],
    },
    {
      name: 'never admits a cost above the limit; a look changes nothing; no borrowing from an empty pool',
      limit: 40,
      windowMs: 1_000,
      weights: [
        ['high', 3],
        ['low', 1],
      ],
      steps: [
        { at: 0, cost: 41, cls: 'low', expect: no(10, 0, -1) },
        { at: 0, cost: 0, cls: 'high', expect: ok(30, 0) },
        { at: 0, cost: 15, cls: 'low', expect: no(10, 0, 500) },
      ],
    },
    {
      // 10 per 60 s, a and b weight 1: g = 10, a token is 12,000 sub-units, 1 per ms each,
      // reserves 60,000 (5 tokens) each. Long-lived, so it also runs through RedisStore.
      name: 'admits from the reserve, then the pool, over a minute',
      limit: 10,
      windowMs: 60_000,
      weights: [
        ['a', 1],
        ['b', 1],
      ],
      steps: [
        { at: 0, cost: 1, cls: 'a', expect: ok(4, 6_000) },
        { at: 1_000, cost: 5, cls: 'b', expect: ok(0, 36_000) },
        { at: 1_000, cost: 1, cls: 'b', expect: no(0, 36_000, 11_000) },
        { at: 2_000, cost: 5, cls: 'a', expect: no(4, 36_000, 9_000) },
        { at: 2_000, cost: 4, cls: 'a', expect: ok(0, 60_000) },
      ],
    },
    {
      // 1:1 (W = 2): a token is 50 sub-units, reserves 1,000 each; 2,000 and 1,000 held at 3:1
      // convert to 1,000 (high's new reserve) and 500.
      name: 'reads its state in the new units when the weights change',
      limit: 40,
      windowMs: 1_000,
      weights: [
        ['high', 3],
        ['low', 1],
      ],
      steps: [
        { at: 0, cost: 10, cls: 'high', expect: ok(20, 250) },
        {
          at: 0,
          cost: 1,
          cls: 'high',
          weights: [
            ['high', 1],
            ['low', 1],
          ],
          expect: ok(19, 275),
        },
      ],
    },
  ],
};

/** Gives back what one admitted request was charged (the response did not count, or was given up). */
export interface RefundStep {
  at: number;
  refund: {
    cost: number;
    /** When the refunded request was charged (ms after the start). */ chargedAt: number;
  };
  /** The state afterwards, as a look answers it. */
  expect: Expected;
}

/** A request of a policy case; `peek` looks without charging (admin inspect). */
export interface PolicyRequestStep extends RequestStep {
  peek?: boolean;
}

/** A rule policy played by the stores (blocks and refunds live beside the algorithm's state). */
export interface PolicyCase {
  name: string;
  algorithm: Algorithm;
  limit: number;
  windowMs: number;
  /** The rule's `blockDuration` (ms). */
  blockMs?: number;
  maxDelayMs?: number;
  steps: Array<PolicyRequestStep | RefundStep>;
}

export const isRefund = (step: PolicyRequestStep | RefundStep): step is RefundStep =>
  'refund' in step;

export const POLICY_CASES: readonly PolicyCase[] = [
  {
    name: 'blockDuration: a denial keeps the caller denied past the window, a look included',
    algorithm: 'fixed-window',
    limit: 2,
    windowMs: 10_000,
    blockMs: 30_000,
    steps: [
      { at: 0, cost: 1, expect: ok(1, 10_000) },
      { at: 1, cost: 1, expect: ok(0, 10_000) },
      { at: 2, cost: 1, expect: no(0, 30_002, 30_000) },
      // The next window would admit: the block does not.
      { at: 15_000, cost: 1, expect: no(0, 30_002, 15_002) },
      { at: 20_000, cost: 0, peek: true, expect: no(0, 30_002, 10_002) },
      // Past the block's end the window's own reset is the later one.
      { at: 30_001, cost: 1, expect: no(0, 40_000, 1) },
      { at: 30_002, cost: 1, expect: ok(1, 40_000) },
    ],
  },
  {
    name: 'blockDuration: a cost above the limit starts no block',
    algorithm: 'fixed-window',
    limit: 2,
    windowMs: 10_000,
    blockMs: 30_000,
    steps: [
      { at: 0, cost: 3, expect: no(2, 10_000, -1) },
      { at: 1, cost: 1, expect: ok(1, 10_000) },
    ],
  },
  {
    // 1 token is 1 000 sub-units, 1 refills per ms.
    name: 'blockDuration: a refilled bucket stays closed until the block ends',
    algorithm: 'token-bucket',
    limit: 2,
    windowMs: 2_000,
    blockMs: 5_000,
    steps: [
      { at: 0, cost: 2, expect: ok(0, 2_000) },
      { at: 500, cost: 1, expect: no(0, 5_500, 5_000) },
      { at: 3_000, cost: 1, expect: no(0, 5_500, 2_500) },
      { at: 5_500, cost: 1, expect: ok(1, 6_500) },
      { at: 5_500, cost: 1, expect: ok(0, 7_500) },
      // Denied for 2 000 ms by the bucket, blocked for 5 000.
      { at: 5_500, cost: 2, expect: no(0, 10_500, 5_000) },
    ],
  },
  {
    name: "blockDuration: a block shorter than the algorithm's wait changes nothing",
    algorithm: 'gcra',
    limit: 1,
    windowMs: 60_000,
    blockMs: 1_000,
    steps: [
      { at: 0, cost: 1, expect: ok(0, 60_000) },
      { at: 1, cost: 1, expect: no(0, 60_000, 59_999) },
      { at: 2, cost: 0, peek: true, expect: no(0, 60_000, 999) },
      { at: 60_000, cost: 1, expect: ok(0, 120_000) },
    ],
  },
  {
    name: 'refund: fixed window, to the window charged; an ended window keeps nothing to give back',
    algorithm: 'fixed-window',
    limit: 2,
    windowMs: 10_000,
    steps: [
      { at: 0, cost: 1, expect: ok(1, 10_000) },
      { at: 1, cost: 1, expect: ok(0, 10_000) },
      { at: 2, refund: { cost: 1, chargedAt: 1 }, expect: ok(1, 10_000) },
      { at: 3, cost: 1, expect: ok(0, 10_000) },
      { at: 4, cost: 1, expect: no(0, 10_000, 9_996) },
      { at: 10_000, refund: { cost: 1, chargedAt: 3 }, expect: ok(2, 20_000) },
      { at: 10_000, cost: 2, expect: ok(0, 20_000) },
    ],
  },
  {
    name: 'refund: sliding window counter, to the current or the previous window',
    algorithm: 'sliding-window-counter',
    limit: 3,
    windowMs: 10_000,
    steps: [
      { at: 0, cost: 1, expect: ok(2, 20_000) },
      { at: 1, cost: 1, expect: ok(1, 20_000) },
      { at: 5_000, cost: 1, expect: ok(0, 20_000) },
      { at: 6_000, refund: { cost: 1, chargedAt: 1 }, expect: ok(1, 20_000) },
      // The previous window's 2 weigh floor(2 * 5 000 / 10 000) = 1.
      { at: 15_000, cost: 1, expect: ok(1, 30_000) },
      // Back to the previous window: its 1 weighs floor(1 * 4 999 / 10 000) = 0.
      { at: 15_001, refund: { cost: 1, chargedAt: 5_000 }, expect: ok(2, 30_000) },
    ],
  },
  {
    // 1 token is 5 000 sub-units, 1 refills per ms.
    name: 'refund: token bucket, the tokens back, never above the capacity',
    algorithm: 'token-bucket',
    limit: 2,
    windowMs: 10_000,
    steps: [
      { at: 0, cost: 1, expect: ok(1, 5_000) },
      { at: 0, cost: 1, expect: ok(0, 10_000) },
      { at: 1_000, refund: { cost: 1, chargedAt: 0 }, expect: ok(1, 5_000) },
      { at: 1_000, cost: 2, expect: no(1, 5_000, 4_000) },
      { at: 9_000, refund: { cost: 1, chargedAt: 0 }, expect: ok(2, 9_000) },
      { at: 9_000, cost: 2, expect: ok(0, 19_000) },
    ],
  },
  {
    name: 'refund: leaky bucket, the level down by the charge',
    algorithm: 'leaky-bucket',
    limit: 2,
    windowMs: 10_000,
    steps: [
      { at: 0, cost: 1, expect: ok(1, 5_000) },
      { at: 0, cost: 1, expect: ok(0, 10_000) },
      { at: 0, cost: 1, expect: no(0, 10_000, 5_000) },
      { at: 1_000, refund: { cost: 1, chargedAt: 0 }, expect: ok(1, 5_000) },
      { at: 1_000, cost: 1, expect: ok(0, 10_000) },
    ],
  },
  {
    name: 'refund: GCRA with maxDelay, a slot given up is taken by the next request',
    algorithm: 'gcra',
    limit: 2,
    windowMs: 1_000,
    maxDelayMs: 1_000,
    steps: [
      { at: 0, cost: 1, expect: ok(1, 500) },
      { at: 0, cost: 1, expect: ok(0, 1_000) },
      { at: 0, cost: 1, expect: held(0, 1_500, 500) },
      { at: 0, cost: 1, expect: held(0, 2_000, 1_000) },
      { at: 0, cost: 1, expect: no(0, 2_000, 500) },
      { at: 100, refund: { cost: 1, chargedAt: 0 }, expect: ok(0, 1_500) },
      { at: 100, cost: 1, expect: held(0, 2_000, 900) },
    ],
  },
  {
    name: "refund: sliding window log, the admission's entry removed and the later totals renumbered",
    algorithm: 'sliding-window-log',
    limit: 3,
    windowMs: 10_000,
    steps: [
      { at: 0, cost: 1, expect: ok(2, 10_000) },
      { at: 1_000, cost: 1, expect: ok(1, 11_000) },
      { at: 2_000, cost: 1, expect: ok(0, 12_000) },
      { at: 3_000, refund: { cost: 1, chargedAt: 1_000 }, expect: ok(1, 12_000) },
      // 1 more unit needed: the request at 0 leaves at 10 000.
      { at: 3_000, cost: 2, expect: no(1, 12_000, 7_000) },
      { at: 3_000, cost: 1, expect: ok(0, 13_000) },
      { at: 10_000, cost: 1, expect: ok(0, 20_000) },
      // Nothing was admitted at 500: nothing to remove.
      { at: 10_000, refund: { cost: 1, chargedAt: 500 }, expect: ok(0, 20_000) },
      { at: 10_000, refund: { cost: 1, chargedAt: 2_000 }, expect: ok(1, 20_000) },
    ],
  },
];
