import { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import { ALGORITHMS, ALGORITHM_NAMES } from '../../libs/rate-limit/src/algorithms/index.js';
import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';
import { MemoryStore } from '../../libs/rate-limit/src/stores/memory.store.js';
import type { RuleCall, StoreResult } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import {
  ALGORITHM_CASES,
  DAYS_31,
  POLICY_CASES,
  T0,
  isRefund,
  isRelease,
  stepShare,
  type AlgorithmCase,
  type Expected,
  type PolicyCase,
} from '../support/algorithm-cases.js';
import { ConsumeBatch, type BatchOp } from '../support/consume-batch.js';
import { int, pick, seeded } from '../support/random.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/** Redis Cluster's hash slot of a key, as ioredis computes it. */
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

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
      calls: [
        {
          key,
          algorithm,
          limit,
          windowMs,
          cost,
          enforce: true,
          leaseId,
          share: stepShare(c, step),
          maxDelayMs: c.maxDelayMs,
        },
      ],
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
    } else if (op.refundOf !== undefined) {
      out.push(await memory.refund(op.calls, op.refundOf, op.now));
    } else {
      out.push(
        await (op.charge ? memory.consume(op.calls, op.now) : memory.peek(op.calls, op.now)),
      );
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
      maxDelayMs: c.maxDelayMs,
    });
    if (r.allowed) {
      state = r.next;
      if (step.cost > 0) shortest = Math.min(shortest, r.ttlMs);
    }
  }
  return shortest;
}

const tableCases = ALGORITHM_NAMES.flatMap((algorithm) =>
  ALGORITHM_CASES[algorithm].map((c, i) => ({
    algorithm,
    c,
    key: `${prefix}:table:${algorithm}:${i}`,
  })),
);

describe('the hand-computed table', () => {
  const named = (list: typeof tableCases) =>
    list.map((t) => [`${t.algorithm}: ${t.c.name}`, t] as const);

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

/** A policy case as store operations on one key: charges, looks and refunds. */
function policyOps(c: PolicyCase, key: string): BatchOp[] {
  return c.steps.map((step) => {
    const call: RuleCall = {
      key,
      algorithm: c.algorithm,
      limit: c.limit,
      windowMs: c.windowMs,
      cost: isRefund(step) ? step.refund.cost : step.cost,
      enforce: true,
      blockMs: c.blockMs,
      maxDelayMs: c.maxDelayMs,
    };
    const now = T0 + step.at;
    if (isRefund(step))
      return { calls: [call], now, charge: false, refundOf: T0 + step.refund.chargedAt };
    return { calls: [call], now, charge: !step.peek };
  });
}

describe('rule policies: blocks and refunds', () => {
  const cases = POLICY_CASES.map((c, i) => [c.name, c, `${prefix}:policy:${i}:{id}`] as const);

  it.each(cases)('%s: Lua and memory', async (_, c, key) => {
    const ops = policyOps(c, key);
    const relative = (results: Array<StoreResult | null>) =>
      results.map((r) => ({ ...r!.outcomes[0], resetAtMs: r!.outcomes[0].resetAtMs - T0 }));
    const expected = c.steps.map((s) => s.expect);
    expect(relative(await batch.run(ops))).toEqual(expected);
    expect(relative(await throughMemory(ops))).toEqual(expected);
  });

  it('keeps a block beside the state key with a TTL of the block, in its cluster slot; a reset deletes both', async () => {
    const store = new RedisStore(client);
    const key = `${prefix}:block:{caller}`;
    const call: RuleCall = {
      key,
      algorithm: 'fixed-window',
      limit: 1,
      windowMs: 60_000,
      cost: 1,
      enforce: true,
      blockMs: 90_000,
    };
    expect((await store.consume([call])).outcomes[0].allowed).toBe(true);
    const denied = await store.consume([call]);
    expect(denied.outcomes[0]).toMatchObject({
      allowed: false,
      remaining: 0,
      retryAfterMs: 90_000,
    });
    expect(denied.outcomes[0].resetAtMs).toBe(denied.now + 90_000);
    const ttl = await client.pttl(`${key}:block`);
    expect(ttl).toBeGreaterThan(85_000);
    expect(ttl).toBeLessThanOrEqual(90_000);
    expect(await client.get(`${key}:block`)).toBe(String(denied.now + 90_000));
    expect(calculateSlot(`${key}:block`)).toBe(calculateSlot(key));
    await store.reset([key]);
    expect(await client.exists(key, `${key}:block`)).toBe(0);
    expect((await store.consume([call])).outcomes[0].allowed).toBe(true);
  });

  it('refuses a refund where none is defined, on Redis and in memory', async () => {
    const call: RuleCall = {
      key: `${prefix}:norefund`,
      algorithm: 'concurrency',
      limit: 1,
      windowMs: 1_000,
      cost: 1,
      enforce: true,
    };
    await expect(new RedisStore(client).refund([call], T0)).rejects.toThrow(
      /no refund for algorithm concurrency/,
    );
    await expect(new MemoryStore({ sweepIntervalMs: 0 }).refund([call], T0)).rejects.toThrow(
      /No refund/,
    );
  });
});

const LIMITS = [1, 2, 3, 5, 10, 100, 1_000_000_000];
const WINDOWS = [1, 7, 1_000, 5_000, 60_000, DAYS_31];
const LEASES = ['a', 'b', 'c'];
const BLOCKS = [1, 7, 1_000, 60_000, DAYS_31];
const SHAPED: readonly Algorithm[] = ['leaky-bucket', 'gcra'];
const REFUNDABLE = ALGORITHM_NAMES.filter((a) => ALGORITHMS[a].refund !== undefined);

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
    blockMs: undefined as number | undefined,
    maxDelayMs: undefined as number | undefined,
  }));
  // A share of the rules block on denial; shaped leaky buckets and GCRA hold up to a window.
  for (const rule of rules) {
    if (rnd() < 0.3) rule.blockMs = pick(rnd, BLOCKS);
    if (SHAPED.includes(rule.algorithm) && rnd() < 0.4)
      rule.maxDelayMs = int(rnd, 1, rule.windowMs);
  }
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
    const calls: RuleCall[] = rules.map((rule) => {
      const { key, algorithm, limit, windowMs, enforce, share, blockMs, maxDelayMs } = rule;
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
      return {
        key,
        algorithm,
        limit,
        windowMs,
        cost,
        enforce,
        leaseId,
        share: share?.(rnd),
        blockMs,
        maxDelayMs,
      };
    });
    const last = ops[ops.length - 1];
    // Now and then the refund of the last charge (whether it was admitted or not: the stores
    // must agree either way), for the rules that have one.
    if (last && !('release' in last) && last.charge && rnd() < 0.15) {
      const refundable = last.calls.filter((c) => REFUNDABLE.includes(c.algorithm));
      if (refundable.length > 0) {
        ops.push({ calls: refundable, now, charge: false, refundOf: last.now });
        charged = false;
        continue;
      }
    }
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

  it('exercises admissions, denials, dry-run denials, never-admissible costs, shaped slots, blocks and refunds', async () => {
    const seen = {
      admitted: 0,
      denied: 0,
      dryRunDenied: 0,
      never: 0,
      held: 0,
      blocked: 0,
      refunds: 0,
    };
    for (const primary of ALGORITHM_NAMES) {
      for (const seed of SEEDS.slice(0, 10)) {
        const ops = randomOps(primary, seed);
        const memory = await throughMemory(ops);
        memory.forEach((result, i) => {
          const op = ops[i];
          if (result === null || 'release' in op) return;
          if (op.refundOf !== undefined) seen.refunds++;
          result.outcomes.forEach((o, r) => {
            const { blockMs } = op.calls[r];
            if (o.allowed && o.retryAfterMs > 0) seen.held++;
            if (!o.allowed && blockMs !== undefined && o.retryAfterMs >= blockMs) seen.blocked++;
            if (o.retryAfterMs === -1) seen.never++;
            if (o.allowed) seen.admitted++;
            else if (op.calls[r].enforce) seen.denied++;
            else seen.dryRunDenied++;
          });
        });
      }
    }
    expect(Object.entries(seen).filter(([, n]) => n < 20)).toEqual([]);
  });
});
