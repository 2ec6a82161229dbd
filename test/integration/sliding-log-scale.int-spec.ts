import { Redis } from 'ioredis';
import { DEFAULTS } from '../../libs/rate-limit/src/rate-limit.constants.js';
import { MemoryStore } from '../../libs/rate-limit/src/stores/memory.store.js';
import type {
  RuleCall,
  RuleOutcome,
  StoreResult,
} from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { ResilientStore } from '../../libs/rate-limit/src/stores/resilient.store.js';
import { T0 } from '../support/algorithm-cases.js';
import { ConsumeBatch, type BatchOp } from '../support/consume-batch.js';
import { int, pick, seeded } from '../support/random.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let client: Redis;
let redis: RedisStore;
const prefix = keyPrefix('slog-scale');

beforeAll(async () => {
  server = await RedisServer.start();
  client = new Redis(server.url);
  redis = new RedisStore(client);
});
afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

const call = (key: string, limit: number, cost: number, windowMs: number): RuleCall => ({
  key,
  algorithm: 'sliding-window-log',
  limit,
  windowMs,
  cost,
  enforce: true,
});

describe('a sliding log of 50 000 entries decides like one of 50', () => {
  /** Long enough that nothing leaves during the test; times are injected, TTLs are real. */
  const WINDOW = 600_000;
  const SLOTS = 50;
  const SCALE = 1_000;
  const start = Date.now();
  const now = start + 100;

  let store: ResilientStore;
  beforeAll(() => {
    store = new ResilientStore(redis, new MemoryStore({ sweepIntervalMs: 0 }), {
      failureMode: 'memory',
      fallbackDivisor: 1,
      breaker: DEFAULTS.breaker,
    });
  });
  afterAll(() => store?.onModuleDestroy());

  /** Logs, one ms per slot, the costs `perSlot` gives, through the script itself. */
  async function fill(key: string, perSlot: number[]): Promise<void> {
    for (let slot = 0; slot < SLOTS; slot++) {
      const results = await Promise.all(
        perSlot.map((cost) =>
          redis.consume([call(key, 1_000_000_000, cost, WINDOW)], start + slot),
        ),
      );
      expect(results.every((r) => r.outcomes[0].allowed)).toBe(true);
    }
  }

  /**
   * The members the script logs for `costs` admitted in turn: the running total, its digit count
   * as a letter before it ('a' = 1), then the cost.
   */
  function members(costs: number[]): string[] {
    let total = 0;
    return costs.map((cost) => {
      total += cost;
      return `${String.fromCharCode(96 + String(total).length)}${total}:${cost}`;
    });
  }

  /** What `fill` would leave, written directly: 50 000 script calls are slow on a busy machine. */
  async function write(key: string, perSlot: number[]): Promise<void> {
    const costs = Array.from({ length: SLOTS }, () => perSlot).flat();
    const logged = members(costs);
    for (let from = 0; from < logged.length; from += 5_000) {
      const args = logged
        .slice(from, from + 5_000)
        .flatMap((member, i) => [start + Math.floor((from + i) / perSlot.length), member]);
      await client.zadd(key, ...args);
    }
    // The TTL the script gives after its last admission, at start + SLOTS - 1.
    await client.pexpire(key, WINDOW);
  }

  const ones = { small: `${prefix}:ones:small`, big: `${prefix}:ones:big` };
  const mixed = { small: `${prefix}:mixed:small`, big: `${prefix}:mixed:big` };
  const onesPerSlot = Array.from({ length: SCALE }, () => 1);
  // 2 units per slot on the small log; on the big one 2 000, as 1 000 entries of 1 and 3 in turn.
  const mixedPerSlot = Array.from({ length: SCALE }, (_, i) => (i % 2 === 0 ? 1 : 3));

  beforeAll(async () => {
    await fill(ones.small, [1]);
    await fill(mixed.small, [2]);
    await write(ones.big, onesPerSlot);
    await write(mixed.big, mixedPerSlot);
  });

  it('fills the big logs as the script itself logs', async () => {
    const logged = `${prefix}:logged`;
    await fill(logged, mixedPerSlot.slice(0, 20));
    const written = `${prefix}:written`;
    await write(written, mixedPerSlot.slice(0, 20));
    expect(await client.zrange(written, 0, -1, 'WITHSCORES')).toEqual(
      await client.zrange(logged, 0, -1, 'WITHSCORES'),
    );
    expect(await client.zrange(ones.small, 0, -1)).toEqual(members(Array(SLOTS).fill(1)));
  });

  /** Decides `cost` under `limit` on the small log and SCALE times both on the big one. */
  async function both(
    pair: { small: string; big: string },
    limit: number,
    cost: number,
  ): Promise<RuleOutcome> {
    const [small] = (await store.consume([call(pair.small, limit, cost, WINDOW)], now)).outcomes;
    const [big] = (await store.consume([call(pair.big, limit * SCALE, cost * SCALE, WINDOW)], now))
      .outcomes;
    expect(big).toEqual({ ...small, remaining: small.remaining * SCALE });
    return small;
  }

  const denied = (retryAfterMs: number, remaining = 0): RuleOutcome => ({
    allowed: false,
    remaining,
    resetAtMs: start + SLOTS - 1 + WINDOW,
    retryAfterMs,
  });
  /** The wait until the requests of `slot` leave, seen from `now`. */
  const untilSlotLeaves = (slot: number) => start + slot + WINDOW - now;

  it('holds 50 000 entries with a TTL', async () => {
    expect(await client.zcard(ones.big)).toBe(SLOTS * SCALE);
    expect(await client.zcard(mixed.big)).toBe(SLOTS * SCALE);
    expect(await client.pttl(ones.big)).toBeGreaterThan(WINDOW - 60_000);
  });

  it('costs of 1: the retry is when the needed-th oldest request leaves', async () => {
    for (const k of [1, 2, 25, 50]) {
      expect(await both(ones, 50, k)).toEqual(denied(untilSlotLeaves(k - 1)));
    }
    expect(await both(ones, 50, 51)).toEqual(denied(-1));
  });

  it('mixed costs: the retry is when the oldest that leave sum to what is needed', async () => {
    // 2 units per slot (2 000 on the big log): k units have left once slot ceil(k / 2) - 1 has.
    for (const k of [1, 2, 3, 51, 100]) {
      expect(await both(mixed, 100, k)).toEqual(denied(untilSlotLeaves(Math.ceil(k / 2) - 1)));
    }
  });

  it('admits under a higher limit, then denies by what the admitted request added', async () => {
    expect(await both(ones, 100, 30)).toEqual({
      allowed: true,
      remaining: 20,
      resetAtMs: now + WINDOW,
      retryAfterMs: 0,
    });
    // 80 used: 5 more are needed, the fifth oldest slot frees them.
    expect(await both(ones, 100, 25)).toEqual({
      ...denied(untilSlotLeaves(4), 20),
      resetAtMs: now + WINDOW,
    });
  });

  it('never fell back to memory and left the breaker closed', () => {
    expect(store.stats).toMatchObject({
      state: 'closed',
      fallbackDecisions: 0,
      storeErrors: 0,
      timeouts: 0,
    });
    expect(store.stats.redisDecisions).toBeGreaterThan(0);
  });

  it('costs about the same Redis time per decision at 50 000 entries as at 50', async () => {
    await client.config('SET', 'slowlog-log-slower-than', '0');
    // Commands a script runs are logged too: room for theirs as well.
    await client.config('SET', 'slowlog-max-len', '10000');
    await client.slowlog('RESET');
    // Interleaved, so the load of a shared machine falls on both alike.
    for (let i = 0; i < 100; i++) {
      for (const key of [ones.small, ones.big]) {
        const scale = key === ones.big ? SCALE : 1;
        await store.consume([call(key, 1_000_000_000, 1, WINDOW)], now);
        await store.consume([call(key, 50 * scale, scale, WINDOW)], now);
      }
    }
    const log = (await client.slowlog('GET', 10_000)) as Array<[number, number, number, string[]]>;
    await client.config('SET', 'slowlog-log-slower-than', '10000');
    const median = (key: string) => {
      const us = log
        .filter(([, , , args]) => args[0].toLowerCase() === 'evalsha' && args[3] === key)
        .map(([, , micros]) => micros);
      expect(us).toHaveLength(200);
      return us.sort((a, b) => a - b)[100];
    };
    // Reading the whole log made this ratio about 1 000.
    expect(median(ones.big)).toBeLessThan(5 * Math.max(median(ones.small), 10));
    expect(store.stats.fallbackDecisions).toBe(0);
  });
});

describe('the running totals the members carry', () => {
  const WINDOW = 60_000;

  it('are counted again from 0 before they pass 2^52, and decisions stay exact', async () => {
    const key = `${prefix}:renumber`;
    // Members "<digit count as a letter><running total>:<cost>": 2 then 1 unit, totals near 2^52.
    await client.zadd(key, T0, `p${2 ** 52 - 2}:2`, T0 + 1, `p${2 ** 52 - 1}:1`);
    await client.pexpire(key, WINDOW);
    const at = async (ms: number, cost: number) =>
      (await redis.consume([call(key, 10, cost, WINDOW)], T0 + ms)).outcomes[0];

    expect(await at(2, 2)).toEqual({
      allowed: true,
      remaining: 5,
      resetAtMs: T0 + 2 + WINDOW,
      retryAfterMs: 0,
    });
    expect(await client.zrange(key, 0, -1, 'WITHSCORES')).toEqual([
      'a2:2',
      String(T0),
      'a3:1',
      String(T0 + 1),
      'a5:2',
      String(T0 + 2),
    ]);
    expect(await client.pttl(key)).toBeGreaterThan(0);
    expect(await at(3, 6)).toEqual({
      allowed: false,
      remaining: 5,
      resetAtMs: T0 + 2 + WINDOW,
      retryAfterMs: WINDOW - 3,
    });
    expect(await at(3, 5)).toEqual({
      allowed: true,
      remaining: 0,
      resetAtMs: T0 + 3 + WINDOW,
      retryAfterMs: 0,
    });
  });

  it('are added once to a log written without them, which keeps its TTL', async () => {
    const key = `${prefix}:upgrade`;
    // The earlier members: "<time>:<n>:<cost>".
    await client.zadd(key, T0, `${T0}:0:2`, T0 + 1, `${T0 + 1}:0:1`, T0 + 1, `${T0 + 1}:1:3`);
    await client.pexpire(key, 50_000);
    const at = async (ms: number, cost: number) =>
      (await redis.consume([call(key, 10, cost, WINDOW)], T0 + ms)).outcomes[0];

    expect(await at(2, 5)).toEqual({
      allowed: false,
      remaining: 4,
      resetAtMs: T0 + 1 + WINDOW,
      retryAfterMs: WINDOW - 2,
    });
    expect(await client.zrange(key, 0, -1)).toEqual(['a2:2', 'a3:1', 'a6:3']);
    const ttl = await client.pttl(key);
    expect(ttl).toBeGreaterThan(40_000);
    expect(ttl).toBeLessThanOrEqual(50_000);
    expect(await at(2, 4)).toEqual({
      allowed: true,
      remaining: 0,
      resetAtMs: T0 + 2 + WINDOW,
      retryAfterMs: 0,
    });
    expect(await client.zrange(key, -1, -1)).toEqual(['b10:4']);
  });
});

describe('long seeded runs with mixed costs, a lowered limit and a clock that goes back', () => {
  /** Hundreds of entries per log, so denials search far; every call charges. */
  function mixedOps(seed: number): BatchOp[] {
    const rnd = seeded(seed);
    const key = `${prefix}:mixed-run:${seed}`;
    const limit = pick(rnd, [20, 60, 1_000]);
    const windowMs = pick(rnd, [1_000, 60_000]);
    let now = T0 + int(rnd, 0, 1_000_000);
    return Array.from({ length: 400 }, () => {
      const roll = rnd();
      if (roll < 0.1) now -= int(rnd, 1, windowMs / 4);
      else if (roll > 0.3) now += int(rnd, 1, windowMs / 400);
      const costRoll = rnd();
      const cost = costRoll < 0.75 ? 1 : costRoll < 0.97 ? int(rnd, 2, 5) : int(rnd, 1, limit);
      const stepLimit = rnd() < 0.05 ? int(rnd, 1, limit) : limit;
      return { now, charge: true, calls: [call(key, stepLimit, cost, windowMs)] };
    });
  }

  it('Lua and memory decide identically', async () => {
    const batch = new ConsumeBatch(client);
    let denied = 0;
    let longest = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const ops = mixedOps(seed);
      const memory = new MemoryStore({ sweepIntervalMs: 0 });
      const fromMemory: StoreResult[] = [];
      for (const op of ops)
        if ('calls' in op) fromMemory.push(await memory.consume(op.calls, op.now));
      const fromLua = await batch.run(ops);
      const step = fromLua.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(fromMemory[i]));
      expect({ seed, step, lua: fromLua[step], memory: fromMemory[step] }).toEqual({
        seed,
        step: -1,
        lua: undefined,
        memory: undefined,
      });
      denied += fromMemory.filter((r) => !r.outcomes[0].allowed).length;
      if ('calls' in ops[0]) longest = Math.max(longest, await client.zcard(ops[0].calls[0].key));
    }
    expect(denied).toBeGreaterThan(500);
    expect(longest).toBeGreaterThan(200);
  });
});
