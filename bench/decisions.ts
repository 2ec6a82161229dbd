import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis, type Result } from 'ioredis';
import { MemoryStore, RedisStore, type Algorithm, type RuleCall } from '@app/rate-limit';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { BenchConfig } from './config.js';
import { resetStats, scriptStats } from './support/redis-stats.js';

export const ALGORITHMS: Algorithm[] = [
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
  'token-bucket',
  'leaky-bucket',
  'gcra',
];

/** `ours-3`: one request under three token-bucket rules (three keys in one slot), all charged. */
export type DecisionContender = 'ours' | 'ours-3' | 'rlf' | 'ceiling';

/** The limit at which one request under three rules is compared with one rule: every decision writes. */
export const THREE_RULES_LIMIT = 1_000_000_000;

const threeCalls = (limit: number) =>
  [0, 1, 2].map((i) => call(`rl:bench-three-${i}-${limit}:{hot}`, 'token-bucket', limit));
export const WINDOW_MS = 60_000;

export interface DecisionSample {
  round: number;
  store: 'redis' | 'memory';
  contender: DecisionContender;
  /** rate-limiter-flexible's Redis and memory limiters are fixed windows; the ceiling is a token bucket. */
  algorithm: Algorithm;
  limit: number;
  /** Units (log: entries) in the window before measuring. */
  fill: number;
  decisionsPerSec: number;
  allowedShare: number;
  /**
   * Redis µs per decision (`INFO commandstats`: script time ÷ decisions). Ours decides the
   * decisions of one event-loop turn in calls of up to 16; the others make one call each.
   */
  usecPerDecision: number;
  /** Decisions per script call. */
  decisionsPerCall: number;
  /**
   * CPU of the bench process per decision (µs, `process.cpuUsage`): what a decision costs the
   * app that asks for it, Redis's work aside.
   */
  clientUsPerDecision: number;
  /** Decisions kept in flight: fewer when one decision takes milliseconds (see `SLOW_MS`). */
  inFlight: number;
  error?: string;
}

/**
 * A decision slower than this (the fastest of three) runs with `SLOW_IN_FLIGHT` in flight: Redis runs scripts one at a
 * time, so more would not raise the rate, only make the run wait for a long queue to drain.
 */
const SLOW_MS = 5;
const SLOW_IN_FLIGHT = 2;
const WARMUP_MS = 100;
/** Each case runs in this many slices, its group's cases in turn. */
const SLICES = 5;

/** Keeps one decision-maker busy on one key: resolves `true` when allowed. */
type Decide = () => Promise<boolean>;

interface DecisionCase {
  store: 'redis' | 'memory';
  contender: DecisionContender;
  algorithm: Algorithm;
  limit: number;
  /** Fresh state filled to `fill`; answers the decision to measure. */
  prepare(fill: number): Promise<Decide>;
}

const CEILING_LUA = readFileSync(
  fileURLToPath(new URL('../../bench/ceiling-token-bucket.lua', import.meta.url)),
  'utf8',
);

declare module 'ioredis' {
  interface RedisCommander<Context> {
    benchCeilingTokenBucket(
      key: string,
      limit: number,
      windowMs: number,
      cost: number,
    ): Result<number, Context>;
  }
}

/** rate-limiter-flexible rejects a denial with a RateLimiterRes and a failure with an Error. */
const rlfDenied = (reason: unknown): false => {
  if (reason instanceof RateLimiterRes) return false;
  throw reason instanceof Error ? reason : new Error(`unexpected rejection: ${String(reason)}`);
};

/**
 * `inFlight` decisions at any time until `ms` have passed, then waits for those in flight. The
 * deadline is checked per decision: in-memory decisions resolve as microtasks and would starve a timer.
 */
async function drive(decide: Decide, inFlight: number, ms: number) {
  let decisions = 0;
  let allowed = 0;
  const start = performance.now();
  const deadline = start + ms;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && performance.now() < deadline) {
      try {
        if (await decide()) allowed++;
        decisions++;
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  if (failure) throw failure.error;
  return { decisions, allowed, elapsedMs: performance.now() - start };
}

/** Runs `decide` `count` times, `inFlight` at a time. */
export async function repeat(
  count: number,
  inFlight: number,
  decide: () => Promise<unknown>,
): Promise<void> {
  let left = count;
  const worker = async () => {
    while (left > 0) {
      left--;
      await decide();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

function call(key: string, algorithm: Algorithm, limit: number, cost = 1): RuleCall {
  return { key, algorithm, limit, windowMs: WINDOW_MS, cost, enforce: true };
}

/**
 * Fills a Redis sliding-window log with `fill` entries in a few `ZADD`s, far faster than one
 * decision per entry. The members follow the script's `<d><total>:<cost>` form (the running total
 * of units, prefixed by a letter giving its digit count), and the store's own answer is checked
 * afterwards, so a changed format fails loudly instead of measuring an empty log.
 */
export async function fillRedisLog(client: Redis, key: string, fill: number): Promise<void> {
  const [seconds, micros] = await client.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  // Spread over the last 10 s of the window: nothing expires while measuring.
  const batch = 10_000;
  for (let from = 0; from < fill; from += batch) {
    const args: Array<string | number> = [];
    for (let i = from; i < Math.min(fill, from + batch); i++) {
      const at = now - 10_000 + Math.floor((i * 10_000) / fill);
      const total = String(i + 1);
      args.push(at, `${String.fromCharCode(96 + total.length)}${total}:1`);
    }
    await client.zadd(key, ...args);
  }
  await client.pexpire(key, WINDOW_MS);
}

/** Our store's answer on `remaining` must show the fill, or the measurement would be of another state. */
async function checkFill(
  store: RedisStore | MemoryStore,
  c: RuleCall,
  fill: number,
): Promise<void> {
  const { outcomes } = await store.peek([c]);
  const expected = Math.max(0, c.limit - fill);
  // Buckets refill while they are filled: a little more remains than the fill left.
  const slack = Math.max(2, Math.ceil(c.limit * 0.01));
  if (outcomes[0].remaining < expected || outcomes[0].remaining > expected + slack) {
    throw new Error(
      `after filling ${fill} the store says ${outcomes[0].remaining} remain, not ${expected}`,
    );
  }
}

/** Adds `benchCeilingTokenBucket(key, limit, windowMs, cost)`, the minimal script, to a client. */
export function defineCeiling(client: Redis): void {
  client.defineCommand('benchCeilingTokenBucket', { numberOfKeys: 1, lua: CEILING_LUA });
}

function cases(
  limits: number[],
  clients: { ours: Redis; rlf: Redis; ceiling: Redis },
  memoryStores: MemoryStore[],
) {
  const ours = new RedisStore(clients.ours);
  defineCeiling(clients.ceiling);
  const list: DecisionCase[] = [];
  for (const limit of limits) {
    for (const algorithm of ALGORITHMS) {
      const key = `rl:bench-${algorithm}-${limit}:{hot}`;
      list.push({
        store: 'redis',
        contender: 'ours',
        algorithm,
        limit,
        prepare: async (fill) => {
          await ours.reset([key]);
          if (algorithm === 'sliding-window-log') await fillRedisLog(clients.ours, key, fill);
          else await ours.consume([call(key, algorithm, limit, fill)]);
          await checkFill(ours, call(key, algorithm, limit), fill);
          const c = call(key, algorithm, limit);
          return async () => (await ours.consume([c])).outcomes[0].allowed;
        },
      });
    }
    list.push({
      store: 'redis',
      contender: 'rlf',
      algorithm: 'fixed-window',
      limit,
      prepare: async (fill) => {
        const rlf = new RateLimiterRedis({
          storeClient: clients.rlf,
          points: limit,
          duration: WINDOW_MS / 1000,
          keyPrefix: `rlf-${limit}`,
        });
        await rlf.delete('hot');
        await rlf.consume('hot', fill);
        return () => rlf.consume('hot').then(() => true, rlfDenied);
      },
    });
    list.push({
      store: 'redis',
      contender: 'ceiling',
      algorithm: 'token-bucket',
      limit,
      prepare: async (fill) => {
        const key = `ceiling-${limit}:{hot}`;
        await clients.ceiling.del(key);
        await clients.ceiling.benchCeilingTokenBucket(key, limit, WINDOW_MS, fill);
        return async () =>
          (await clients.ceiling.benchCeilingTokenBucket(key, limit, WINDOW_MS, 1)) === 1;
      },
    });
    if (limit === THREE_RULES_LIMIT) {
      const calls = threeCalls(limit);
      list.push({
        store: 'redis',
        contender: 'ours-3',
        algorithm: 'token-bucket',
        limit,
        prepare: async () => {
          await ours.reset(calls.map((c) => c.key));
          return async () => (await ours.consume(calls)).outcomes.every((o) => o.allowed);
        },
      });
      list.push({
        store: 'memory',
        contender: 'ours-3',
        algorithm: 'token-bucket',
        limit,
        prepare: () => {
          const memory = new MemoryStore({ sweepIntervalMs: 0 });
          memoryStores.push(memory);
          return Promise.resolve(async () =>
            (await memory.consume(calls)).outcomes.every((o) => o.allowed),
          );
        },
      });
    }
    for (const algorithm of ALGORITHMS) {
      const key = `rl:bench-${algorithm}-${limit}:{hot}`;
      list.push({
        store: 'memory',
        contender: 'ours',
        algorithm,
        limit,
        prepare: async (fill) => {
          const memory = new MemoryStore({ sweepIntervalMs: 0 });
          memoryStores.push(memory);
          // The log holds one entry per decision: filled one decision at a time, as traffic fills it.
          if (algorithm === 'sliding-window-log') {
            const one = call(key, algorithm, limit);
            for (let i = 0; i < fill; i++) await memory.consume([one]);
          } else {
            await memory.consume([call(key, algorithm, limit, fill)]);
          }
          await checkFill(memory, call(key, algorithm, limit), fill);
          const c = call(key, algorithm, limit);
          return async () => (await memory.consume([c])).outcomes[0].allowed;
        },
      });
    }
    list.push({
      store: 'memory',
      contender: 'rlf',
      algorithm: 'fixed-window',
      limit,
      prepare: async (fill) => {
        const rlf = new RateLimiterMemory({
          points: limit,
          duration: WINDOW_MS / 1000,
          keyPrefix: 'rlf',
        });
        await rlf.consume('hot', fill);
        return () => rlf.consume('hot').then(() => true, rlfDenied);
      },
    });
  }
  return list;
}

export async function benchDecisions(
  redisUrl: string,
  admin: Redis,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<DecisionSample[]> {
  const { inFlight, limits, maxFill, redisMs, memoryMs } = config.decisions;
  // One connection per contender, default ioredis options, so none shares another's pipeline.
  const clients = {
    ours: new Redis(redisUrl),
    rlf: new Redis(redisUrl),
    ceiling: new Redis(redisUrl),
  };
  const memoryStores: MemoryStore[] = [];
  const samples: DecisionSample[] = [];
  /**
   * The cases of one store and limit, prepared together and then measured in turn, a slice at a
   * time: a burst of load from elsewhere on the machine falls on every case alike, not on one.
   */
  const runGroup = async (group: DecisionCase[], round: number): Promise<DecisionSample[]> => {
    interface Running {
      c: DecisionCase;
      sample: DecisionSample;
      decide?: Decide;
      decisions: number;
      allowed: number;
      elapsedMs: number;
      calls: number;
      usec: number;
      clientUs: number;
    }
    const running: Running[] = [];
    for (const c of group) {
      const fill = Math.min(c.limit, maxFill);
      const sample: DecisionSample = {
        round,
        store: c.store,
        contender: c.contender,
        algorithm: c.algorithm,
        limit: c.limit,
        fill,
        decisionsPerSec: NaN,
        allowedShare: NaN,
        usecPerDecision: NaN,
        decisionsPerCall: NaN,
        clientUsPerDecision: NaN,
        inFlight,
      };
      const r: Running = {
        c,
        sample,
        decisions: 0,
        allowed: 0,
        elapsedMs: 0,
        calls: 0,
        usec: 0,
        clientUs: 0,
      };
      running.push(r);
      try {
        let decide = await c.prepare(fill);
        // The fastest of three: one decision can be slow because the machine was busy, not the case.
        let fastest = Infinity;
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          await decide();
          fastest = Math.min(fastest, performance.now() - t0);
        }
        const slow = fastest > SLOW_MS;
        sample.inFlight = slow ? SLOW_IN_FLIGHT : inFlight;
        // The first round warms the code up (JIT) before measuring, on the same kind of state.
        if (round === 1 && !slow) {
          await drive(decide, sample.inFlight, WARMUP_MS);
          decide = await c.prepare(fill);
        }
        r.decide = decide;
      } catch (error) {
        sample.error = error instanceof Error ? error.message : String(error);
      }
    }
    const sliceMs = (group[0].store === 'redis' ? redisMs : memoryMs) / SLICES;
    for (let slice = 0; slice < SLICES; slice++) {
      for (const r of running) {
        if (!r.decide || r.sample.error) continue;
        try {
          if (r.c.store === 'redis') await resetStats(admin);
          const cpu = process.cpuUsage();
          const run = await drive(r.decide, r.sample.inFlight, sliceMs);
          const used = process.cpuUsage(cpu);
          r.clientUs += used.user + used.system;
          r.decisions += run.decisions;
          r.allowed += run.allowed;
          r.elapsedMs += run.elapsedMs;
          if (r.c.store === 'redis') {
            const stats = await scriptStats(admin);
            r.calls += stats.calls;
            r.usec += stats.usec;
          }
        } catch (error) {
          r.sample.error = error instanceof Error ? error.message : String(error);
        }
      }
    }
    for (const { c, sample, decisions, allowed, elapsedMs, calls, usec, clientUs } of running) {
      const label = `  r${round} ${c.store} ${c.contender} ${c.algorithm} limit ${c.limit}`;
      if (sample.error) {
        log(`${label}: FAILED ${sample.error}`);
        continue;
      }
      sample.decisionsPerSec = (decisions / elapsedMs) * 1000;
      sample.allowedShare = decisions > 0 ? allowed / decisions : NaN;
      sample.usecPerDecision = calls > 0 && decisions > 0 ? usec / decisions : NaN;
      sample.decisionsPerCall = calls > 0 ? decisions / calls : NaN;
      sample.clientUsPerDecision = decisions > 0 ? clientUs / decisions : NaN;
      const us =
        calls > 0
          ? `, ${sample.usecPerDecision.toFixed(1)} µs/decision in Redis, ` +
            `${sample.decisionsPerCall.toFixed(1)} decisions/call`
          : '';
      log(
        `${label}: ${Math.round(sample.decisionsPerSec)} decisions/s, ` +
          `${Math.round(sample.allowedShare * 100)}% allowed${us}`,
      );
    }
    return running.map((r) => r.sample);
  };

  try {
    await Promise.all(Object.values(clients).map((c) => c.ping()));
    const list = cases(limits, clients, memoryStores);
    log(
      `decisions: ${config.rounds} round(s) x ${list.length} cases, ${inFlight} in flight, one key`,
    );
    for (let round = 1; round <= config.rounds; round++) {
      await admin.flushdb();
      const groups = new Map<string, DecisionCase[]>();
      for (const c of list) {
        const id = `${c.store} ${c.limit}`;
        groups.set(id, [...(groups.get(id) ?? []), c]);
      }
      for (const group of groups.values()) {
        samples.push(...(await runGroup(group, round)));
        for (const m of memoryStores.splice(0)) m.onModuleDestroy();
      }
    }
  } finally {
    for (const c of Object.values(clients)) c.disconnect();
  }
  return samples;
}
