import { isDeepStrictEqual } from 'node:util';
import {
  ALGORITHM_CASES,
  DAYS_31,
  T0,
  isRelease,
  stepShare,
  type AlgorithmCase,
  type Expected,
} from '../../../../test/support/algorithm-cases.js';
import { int, pick, seeded } from '../../../../test/support/random.js';
import type { Algorithm } from '../interfaces/index.js';
import type { AlgorithmInput, AlgorithmResult } from './algorithm.interface.js';
import { subUnits } from './algorithm.interface.js';
import { CONCURRENCY_RETRY_MS } from './concurrency.js';
import { ALGORITHMS, ALGORITHM_NAMES } from './index.js';

type Decide = (state: unknown, input: AlgorithmInput) => AlgorithmResult<unknown>;
// Without a share, a weighted bucket is one class holding the whole budget: a token bucket's properties.
const decider =
  (algorithm: Algorithm): Decide =>
  (state, input) =>
    ALGORITHMS[algorithm].decide(state, input);

const decision = (result: AlgorithmResult<unknown>): Expected => {
  const { allowed, remaining, resetAtMs, retryAfterMs } = result;
  return { allowed, remaining, resetAtMs, retryAfterMs };
};

/** The state a store keeps after a single-rule decision: charged when admitted, else cleaned. */
function after(state: unknown, result: AlgorithmResult<unknown>): unknown {
  if (result.allowed) return result.next;
  return result.cleaned !== undefined ? result.cleaned : state;
}

/** Plays a table case as the stores do; times come back relative to the case's start. */
function play(algorithm: Algorithm, c: AlgorithmCase): Expected[] {
  const decide = decider(algorithm);
  const start = c.start ?? T0;
  let state: unknown;
  const out: Expected[] = [];
  for (const step of c.steps) {
    if (isRelease(step)) {
      (state as Map<string, number> | undefined)?.delete(step.release);
      continue;
    }
    const result = decide(state, {
      limit: step.limit ?? c.limit,
      windowMs: step.windowMs ?? c.windowMs,
      cost: step.cost,
      now: start + step.at,
      leaseId: step.lease,
      share: stepShare(c, step),
      maxDelayMs: c.maxDelayMs,
    });
    state = after(state, result);
    out.push({ ...decision(result), resetAtMs: result.resetAtMs - start });
  }
  return out;
}

describe.each(ALGORITHM_NAMES)('%s against the hand-computed table', (algorithm) => {
  it.each(ALGORITHM_CASES[algorithm].map((c) => [c.name, c] as const))('%s', (_, c) => {
    const expected = c.steps.flatMap((step) => (isRelease(step) ? [] : [step.expect]));
    expect(play(algorithm, c)).toEqual(expected);
  });
});

interface Request {
  now: number;
  cost: number;
  leaseId?: string;
}

interface Scenario {
  seed: number;
  limit: number;
  windowMs: number;
  requests: Request[];
}

const LIMITS = [1, 2, 3, 7, 10, 100, 1_000_000_000];
const WINDOWS = [1, 7, 1_000, 10_000, 60_000, 3_600_000, DAYS_31];

/**
 * Seeded single-rule traffic: bursts at one instant, gaps around the refill interval, costs from 0
 * to above the limit, and (optionally) a clock that goes back.
 */
function scenario(seed: number, backwards: boolean): Scenario {
  const rnd = seeded(seed);
  const limit = pick(rnd, LIMITS);
  const windowMs = pick(rnd, WINDOWS);
  const interval = Math.max(1, Math.floor(windowMs / limit));
  let now = T0 + int(rnd, 0, 10 * windowMs);
  const requests: Request[] = [];
  for (let i = 0; i < 40; i++) {
    const roll = rnd();
    if (roll < 0.25) now += 0;
    else if (backwards && roll < 0.35) now -= int(rnd, 1, windowMs);
    else now += int(rnd, 1, 3 * interval);
    const costRoll = rnd();
    const cost =
      costRoll < 0.1
        ? 0
        : costRoll < 0.2
          ? limit
          : costRoll < 0.25
            ? limit + 1
            : int(rnd, 1, Math.min(limit, 4));
    requests.push({ now, cost, leaseId: rnd() < 0.2 ? undefined : `lease-${i}` });
  }
  return { seed, limit, windowMs, requests };
}

/** Runs a scenario, handing each decision and the state it was made on to `check`. */
function walk(
  algorithm: Algorithm,
  s: Scenario,
  check: (step: {
    state: unknown;
    request: Request;
    result: AlgorithmResult<unknown>;
    index: number;
  }) => void,
): void {
  const decide = decider(algorithm);
  let state: unknown;
  s.requests.forEach((request, index) => {
    const result = decide(state, { limit: s.limit, windowMs: s.windowMs, ...request });
    check({ state, request, result, index });
    state = after(state, result);
  });
}

const SEEDS = Array.from({ length: 300 }, (_, i) => i + 1);

describe.each(ALGORITHM_NAMES)('%s on seeded random traffic', (algorithm) => {
  const decide = decider(algorithm);
  const at = (state: unknown, s: Scenario, cost: number, now: number) =>
    decide(state, { limit: s.limit, windowMs: s.windowMs, cost, now, leaseId: 'probe' });

  it.each([false, true])(
    'a denial names the first ms a retry is admitted (clock going back: %s)',
    (backwards) => {
      const failures: string[] = [];
      for (const seed of SEEDS) {
        const s = scenario(seed, backwards);
        walk(algorithm, s, ({ state, request, result, index }) => {
          if (result.allowed || result.retryAfterMs < 0) return;
          // A concurrency hint is capped: leases normally end before they expire.
          if (algorithm === 'concurrency' && result.retryAfterMs >= CONCURRENCY_RETRY_MS) return;
          const kept = after(state, result);
          const retryAt = request.now + result.retryAfterMs;
          const where = `seed ${seed} #${index}`;
          if (!at(kept, s, request.cost, retryAt).allowed)
            failures.push(`${where}: denied at retry time`);
          if (at(kept, s, request.cost, retryAt - 1).allowed)
            failures.push(`${where}: admitted 1 ms early`);
        });
      }
      expect(failures).toEqual([]);
    },
  );

  it.each([false, true])(
    'at resetAtMs the full limit is admitted again (clock going back: %s)',
    (backwards) => {
      const failures: string[] = [];
      for (const seed of SEEDS) {
        const s = scenario(seed, backwards);
        walk(algorithm, s, ({ state, request, result, index }) => {
          const kept = after(state, result);
          if (result.resetAtMs < request.now)
            failures.push(`seed ${seed} #${index}: reset in the past`);
          if (!at(kept, s, s.limit, result.resetAtMs).allowed) {
            failures.push(`seed ${seed} #${index}: not reset at resetAtMs`);
          }
          // The counter's previous window may stop weighing before its reset; the others are exact.
          if (algorithm !== 'sliding-window-counter' && result.remaining < s.limit) {
            if (at(kept, s, s.limit, result.resetAtMs - 1).allowed) {
              failures.push(`seed ${seed} #${index}: reset early`);
            }
          }
        });
      }
      expect(failures).toEqual([]);
    },
  );

  it.each([false, true])(
    'state past its TTL decides as no state at all (clock going back: %s)',
    (backwards) => {
      const failures: string[] = [];
      for (const seed of SEEDS) {
        const s = scenario(seed, backwards);
        walk(algorithm, s, ({ state, request, result, index }) => {
          const kept = after(state, result);
          const expiry = request.now + result.ttlMs;
          for (const cost of [1, s.limit]) {
            const withState = decision(at(kept, s, cost, expiry));
            if (!isDeepStrictEqual(withState, decision(at(undefined, s, cost, expiry)))) {
              failures.push(
                `seed ${seed} #${index}: state still matters after its TTL (cost ${cost})`,
              );
            }
          }
        });
      }
      expect(failures).toEqual([]);
    },
  );

  it('never admits a cost above the limit, and a look (cost 0) never changes the state', () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const s = scenario(seed, true);
      walk(algorithm, s, ({ state, request, result, index }) => {
        if (request.cost > s.limit && (result.allowed || result.retryAfterMs !== -1)) {
          failures.push(`seed ${seed} #${index}: cost above the limit not refused for good`);
        }
        // The log and concurrency drop expired entries on every call; that changes no decision.
        if (request.cost === 0 && !isDeepStrictEqual(result.next, result.cleaned ?? state)) {
          failures.push(`seed ${seed} #${index}: a look changed the state`);
        }
      });
    }
    expect(failures).toEqual([]);
  });
});

/** Admitted (time, cost) pairs of a forward-only enforced scenario. */
function admitted(algorithm: Algorithm, s: Scenario): Array<{ now: number; cost: number }> {
  const out: Array<{ now: number; cost: number }> = [];
  walk(algorithm, s, ({ request, result }) => {
    if (result.allowed && request.cost > 0) out.push({ now: request.now, cost: request.cost });
  });
  return out;
}

describe('exact admission on seeded random traffic (clock only moving forward)', () => {
  /** Walks every seed, comparing each decision with what the algorithm's definition admits. */
  function mismatches(
    algorithm: Algorithm,
    fits: (s: Scenario) => (request: Request) => boolean,
  ): string[] {
    const out: string[] = [];
    for (const seed of SEEDS) {
      const s = scenario(seed, false);
      const admits = fits(s);
      walk(algorithm, s, ({ request, result, index }) => {
        const expected = admits(request);
        if (result.allowed !== expected) {
          out.push(`seed ${seed} #${index}: allowed ${result.allowed}, expected ${expected}`);
        }
      });
    }
    return out;
  }

  it('fixed window: admits while the clock-aligned window has room, never more', () => {
    const failures = mismatches('fixed-window', (s) => {
      const used = new Map<number, number>();
      return ({ now, cost }) => {
        const window = now - (now % s.windowMs);
        const fits = cost <= s.limit && (used.get(window) ?? 0) + cost <= s.limit;
        if (fits) used.set(window, (used.get(window) ?? 0) + cost);
        return fits;
      };
    });
    expect(failures).toEqual([]);
  });

  it('sliding window log: admits while the last window-long span has room, never more', () => {
    const failures = mismatches('sliding-window-log', (s) => {
      const log: Request[] = [];
      return (request) => {
        const inWindow = log
          .filter((e) => e.now > request.now - s.windowMs)
          .reduce((sum, e) => sum + e.cost, 0);
        const fits = request.cost <= s.limit && inWindow + request.cost <= s.limit;
        if (fits) log.push(request);
        return fits;
      };
    });
    expect(failures).toEqual([]);
  });

  it('concurrency: admits while fewer than the limit of leases are unexpired, never more', () => {
    const failures = mismatches('concurrency', (s) => {
      const leases: number[] = [];
      return ({ now, cost }) => {
        const fits =
          cost <= s.limit && leases.filter((expiry) => expiry > now).length + cost <= s.limit;
        if (fits && cost > 0) leases.push(now + s.windowMs);
        return fits;
      };
    });
    expect(failures).toEqual([]);
  });

  it('sliding window counter: never more than the limit in one clock-aligned window', () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const s = scenario(seed, false);
      const used = new Map<number, number>();
      for (const { now, cost } of admitted('sliding-window-counter', s)) {
        const window = now - (now % s.windowMs);
        used.set(window, (used.get(window) ?? 0) + cost);
        if (used.get(window)! > s.limit) {
          failures.push(`seed ${seed}: ${used.get(window)} in the window at ${window}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it.each(['token-bucket', 'leaky-bucket', 'gcra'] as const)(
    '%s: between any two admissions, at most the limit plus what refilled in between',
    (algorithm) => {
      const failures: string[] = [];
      for (const seed of SEEDS) {
        const s = scenario(seed, false);
        const list = admitted(algorithm, s);
        const { per, rate } = subUnits(s.limit, s.windowMs);
        for (let i = 0; i < list.length; i++) {
          let sum = 0n;
          for (let j = i; j < list.length; j++) {
            sum += BigInt(list[j].cost);
            // sum <= limit + elapsed * limit / window, in sub-units to stay exact
            const allowance =
              BigInt(s.limit * per) + BigInt(list[j].now - list[i].now) * BigInt(rate);
            if (sum * BigInt(per) > allowance) {
              failures.push(`seed ${seed}: ${sum} units admitted from #${i} to #${j}`);
            }
          }
        }
      }
      expect(failures).toEqual([]);
    },
  );

  it('token bucket, leaky bucket and GCRA admit the same requests while the clock moves forward', () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const s = scenario(seed, false);
      const bucket = JSON.stringify(admitted('token-bucket', s));
      if (JSON.stringify(admitted('leaky-bucket', s)) !== bucket)
        failures.push(`seed ${seed}: leaky bucket differs`);
      if (JSON.stringify(admitted('gcra', s)) !== bucket)
        failures.push(`seed ${seed}: GCRA differs`);
    }
    expect(failures).toEqual([]);
  });
});

describe('subUnits', () => {
  it.each([
    [10, 1_000, 100, 1],
    [3, 10_000, 10_000, 3],
    [1_000_000_000, 1_000, 1, 1_000_000],
    [1_000_000_000, DAYS_31, 1_674, 625],
    [7, 1, 1, 7],
  ])(
    'limit %d per %d ms: one unit is %d sub-units, %d refill per ms',
    (limit, windowMs, per, rate) => {
      expect(subUnits(limit, windowMs)).toEqual({ per, rate });
    },
  );
});
