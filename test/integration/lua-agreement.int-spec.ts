import { Redis } from 'ioredis';
import { ALGORITHMS, ALGORITHM_NAMES } from '../../libs/rate-limit/src/algorithms/index.js';
import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';
import { MemoryStore } from '../../libs/rate-limit/src/stores/memory.store.js';
import type { RuleCall, StoreResult } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import {
  ALGORITHM_CASES,
  DAYS_31,
  T0,
  isRelease,
  stepShare,
  type AlgorithmCase,
  type Expected,
} from '../support/algorithm-cases.js';
import { ConsumeBatch, type BatchOp } from '../support/consume-batch.js';
import { int, pick, seeded } from '../support/random.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let client: Redis;
let batch: ConsumeBatch;
const prefix = keyPrefix('agree');

beforeAll(async () => {
  server = await RedisServer.start();
  client = new Redis(server.url);
  batch = new ConsumeBatch(client);
});
afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

/** A table case as store operations on one key. */
function caseOps(algorithm: Algorithm, c: AlgorithmCase, key: string): BatchOp[] {
  const start = c.start ?? T0;
  return c.steps.map((step) => {
    if (isRelease(step)) return { release: { key, leaseId: step.release } };
    const { cost, lease: leaseId, limit = c.limit, windowMs = c.windowMs } = step;
    return {
      now: start + step.at,
      charge: true,
      calls: [{ key, algorithm, limit, windowMs, cost, enforce: true, leaseId, share: stepShare(c, step) }],
    };
  });
}

const expectations = (c: AlgorithmCase): Expected[] =>
  c.steps.flatMap((s) => (isRelease(s) ? [] : [s.expect]));

/** Single-rule results with times relative to the case's start, releases left out. */
const relative = (c: AlgorithmCase, results: Array<StoreResult | null>): Expected[] =>
  results.flatMap((r) => {
    if (r === null) return [];
    const [outcome] = r.outcomes;
    return [{ ...outcome, resetAtMs: outcome.resetAtMs - (c.start ?? T0) }];
  });

/** Plays operations through the memory store, on the same fake clock. */
async function throughMemory(ops: BatchOp[]): Promise<Array<StoreResult | null>> {
  const memory = new MemoryStore({ sweepIntervalMs: 0 });
  const out: Array<StoreResult | null> = [];
  for (const op of ops) {
    if ('release' in op) {
      await memory.release(op.release.key, op.release.leaseId);
      out.push(null);
    } else {
      out.push(await (op.charge ? memory.consume(op.calls, op.now) : memory.peek(op.calls, op.now)));
    }
  }
  return out;
}

/** Shortest TTL a case gives its state, per the TypeScript algorithm. */
function shortestTtl(algorithm: Algorithm, c: AlgorithmCase): number {
  let state: unknown;
  let shortest = Infinity;
  for (const step of c.steps) {
    if (isRelease(step)) continue;
    const r = ALGORITHMS[algorithm].decide(state, {
      limit: step.limit ?? c.limit,
      windowMs: step.windowMs ?? c.windowMs,
      cost: step.cost,
      now: (c.start ?? T0) + step.at,
      leaseId: step.lease,
      share: stepShare(c, step),
    });
    if (r.allowed) {
      state = r.next;
      if (step.cost > 0) shortest = Math.min(shortest, r.ttlMs);
    }
  }
  return shortest;
}

const tableCases = ALGORITHM_NAMES.flatMap((algorithm) =>
  ALGORITHM_CASES[algorithm].map((c, i) => ({ algorithm, c, key: `${prefix}:table:${algorithm}:${i}` })),
);

describe('the hand-computed table', () => {
  const named = (list: typeof tableCases) => list.map((t) => [`${t.algorithm}: ${t.c.name}`, t] as const);

  it.each(named(tableCases))('%s: Lua and memory', async (_, t) => {
    const ops = caseOps(t.algorithm, t.c, t.key);
    expect(relative(t.c, await batch.run(ops))).toEqual(expectations(t.c));
    expect(relative(t.c, await throughMemory(ops))).toEqual(expectations(t.c));
  });

  // One store call per step lets Redis's real clock run between steps: only cases whose state
  // lives for a second or more can go this way without expiring under the fake clock's feet.
  const durable = tableCases.filter((t) => shortestTtl(t.algorithm, t.c) >= 1_000);

  it('leaves enough cases durable on a real clock to cover every algorithm through RedisStore', () => {
    expect(new Set(durable.map((t) => t.algorithm))).toEqual(new Set(ALGORITHM_NAMES));
  });

  it.each(named(durable))('%s: RedisStore', async (_, t) => {
    const store = new RedisStore(client);
    const key = `${t.key}:store`;
    const results: Array<StoreResult | null> = [];
    for (const op of caseOps(t.algorithm, t.c, key)) {
      if ('release' in op) {
        await store.release(key, op.release.leaseId);
        results.push(null);
      } else {
        results.push(await store.consume(op.calls, op.now));
      }
    }
    expect(relative(t.c, results)).toEqual(expectations(t.c));
  });
});

const LIMITS = [1, 2, 3, 5, 10, 100, 1_000_000_000];
const WINDOWS = [1, 7, 1_000, 5_000, 60_000, DAYS_31];
const LEASES = ['a', 'b', 'c'];

/**
 * Seeded traffic over one to three rules per call: `primary` first, then any algorithm, some of
 * them dry-run; costs from 0 to above the limit; peeks; concurrency releases, reused lease ids and
 * calls without one. The clock stands still, moves on, or goes back (only right after a charged
 * call: see below).
 */
function randomOps(primary: Algorithm, seed: number): BatchOp[] {
  const rnd = seeded(seed);
  const rules = Array.from({ length: int(rnd, 1, 3) }, (_, r) => ({
    key: `${prefix}:random:${primary}:${seed}:${r}`,
    algorithm: r === 0 ? primary : pick(rnd, ALGORITHM_NAMES),
    limit: pick(rnd, LIMITS),
    windowMs: pick(rnd, WINDOWS),
    enforce: r === 0 || rnd() < 0.7,
    share: undefined as ((rnd: () => number) => RuleCall['share']) | undefined,
  }));
  // Weighted buckets: two or three classes; now and then the weights change between calls.
  for (const rule of rules.filter((r) => r.algorithm === 'weighted-token-bucket')) {
    const names = ['a', 'b', 'c'].slice(0, int(rnd, 2, 3));
    let weights = names.map((name) => [name, int(rnd, 1, 5)] as [string, number]);
    rule.share = (next) => {
      if (next() < 0.05) weights = names.map((name) => [name, int(next, 1, 5)] as [string, number]);
      return { weights, cls: pick(next, names) };
    };
  }
  let now = T0 + int(rnd, 0, 10_000_000);
  let charged = false;
  const ops: BatchOp[] = [];
  for (let i = 0; i < 60; i++) {
    const concurrent = rules.find((r) => r.algorithm === 'concurrency');
    if (concurrent && rnd() < 0.08) {
      ops.push({ release: { key: concurrent.key, leaseId: pick(rnd, LEASES) } });
      continue;
    }
    const scale = pick(rnd, rules).windowMs;
    const roll = rnd();
    // Going back only right after a charged call: the memory store stretches the expiry of state
    // it cleans without charging, which Redis does not need to; a peek that then finds Redis's
    // copy expired leaves the memory store's in place, and a clock going back would see the two
    // differ where no production clock can (Redis expires on the clock it decides with).
    if (roll < 0.2) now += 0;
    else if (roll < 0.3 && charged) now -= int(rnd, 1, scale);
    else now += int(rnd, 1, Math.max(1, Math.floor(scale / 2)));
    const calls: RuleCall[] = rules.map(({ key, algorithm, limit, windowMs, enforce, share }) => {
      const costRoll = rnd();
      const cost =
        costRoll < 0.1
          ? 0
          : costRoll < 0.15
            ? limit + 1
            : costRoll < 0.25
              ? limit
              : int(rnd, 1, Math.min(limit, 3));
      const leaseId = algorithm === 'concurrency' && rnd() < 0.7 ? pick(rnd, LEASES) : undefined;
      return { key, algorithm, limit, windowMs, cost, enforce, leaseId, share: share?.(rnd) };
    });
    charged = rnd() > 0.1;
    ops.push({ calls, now, charge: charged });
  }
  return ops;
}

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);

describe('seeded random traffic, several rules per call', () => {
  it.each(ALGORITHM_NAMES)('%s: Lua and memory decide identically', async (primary) => {
    for (const seed of SEEDS) {
      const ops = randomOps(primary, seed);
      const [redis, memory] = [await batch.run(ops), await throughMemory(ops)];
      const step = redis.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(memory[i]));
      if (step >= 0) {
        throw new Error(
          [
            `seed ${seed}, step ${step}: Lua and memory differ (randomOps('${primary}', ${seed}) reproduces it)`,
            `call:   ${JSON.stringify(ops[step])}`,
            `lua:    ${JSON.stringify(redis[step])}`,
            `memory: ${JSON.stringify(memory[step])}`,
          ].join('\n'),
        );
      }
    }
  });

  it('exercises admissions, denials, dry-run denials and never-admissible costs', async () => {
    const seen = { admitted: 0, denied: 0, dryRunDenied: 0, never: 0 };
    for (const primary of ALGORITHM_NAMES) {
      for (const seed of SEEDS.slice(0, 10)) {
        const ops = randomOps(primary, seed);
        const memory = await throughMemory(ops);
        memory.forEach((result, i) => {
          const op = ops[i];
          if (result === null || 'release' in op) return;
          result.outcomes.forEach((o, r) => {
            if (o.retryAfterMs === -1) seen.never++;
            if (o.allowed) seen.admitted++;
            else if (op.calls[r].enforce) seen.denied++;
            else seen.dryRunDenied++;
          });
        });
      }
    }
    expect(Object.values(seen).every((n) => n >= 20)).toBe(true);
  });
});
