import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { MemoryStore, RedisStore, type Algorithm, type RuleCall } from '@app/rate-limit';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RateLimiterUnion } from 'rate-limiter-flexible';
import type { BenchConfig } from './config.js';
import { Histogram } from './support/histogram.js';

/** Decides for the key at this index; resolves `false` on a denial. */
type Op = (index: number) => Promise<boolean>;

interface DecisionCase {
  name: string;
  /** The case this one is compared with. */
  peer?: string;
  /** Called before every round: fresh state, then the operation to drive. */
  prepare(): Promise<Op>;
}

export interface DecisionResult {
  name: string;
  peer?: string;
  decisions: number;
  denied: number;
  elapsedMs: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  error?: string;
}

export interface DecisionsReport {
  redis: DecisionResult[];
  memory: DecisionResult[];
}

export const ALGORITHMS: Algorithm[] = [
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
  'token-bucket',
  'leaky-bucket',
  'gcra',
];

export const RLF_REDIS = 'rate-limiter-flexible RateLimiterRedis';
export const RLF_UNION = 'rate-limiter-flexible RateLimiterUnion of 2 RateLimiterRedis';
export const RLF_MEMORY = 'rate-limiter-flexible RateLimiterMemory';

/**
 * rate-limiter-flexible rejects a denial with a RateLimiterRes (a map of them for a union) and an
 * infrastructure failure with an Error.
 */
const rlfDenied = (reason: unknown): false => {
  if (reason instanceof Error) throw reason;
  if (reason instanceof RateLimiterRes || typeof reason === 'object') return false;
  throw new Error(`unexpected rejection: ${String(reason)}`);
};

/**
 * Keeps `concurrency` decisions in flight until `ms` have passed. The deadline is checked per
 * decision, not by a timer: in-memory decisions resolve as microtasks and would starve one.
 */
async function drive(op: Op, keys: number, concurrency: number, ms: number, histogram?: Histogram) {
  let next = 0;
  let decisions = 0;
  let denied = 0;
  const start = performance.now();
  const deadline = start + ms;
  // The first failure stops every worker, so none keeps loading Redis during the next case.
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined) {
      const t0 = performance.now();
      if (t0 >= deadline) return;
      let allowed: boolean;
      try {
        allowed = await op(next++ % keys);
      } catch (error) {
        failure ??= { error };
        return;
      }
      histogram?.record((performance.now() - t0) * 1_000);
      decisions++;
      if (!allowed) denied++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure) throw failure.error;
  return { decisions, denied, elapsedMs: performance.now() - start };
}

async function runCases(
  cases: DecisionCase[],
  config: BenchConfig,
  roundMs: number,
  log: (line: string) => void,
): Promise<DecisionResult[]> {
  const { concurrency, keySpread, warmupMs, rounds } = config.decisions;
  const fresh = () => ({ decisions: 0, denied: 0, elapsedMs: 0, histogram: new Histogram(), error: '' });
  const totals = new Map(cases.map((c) => [c.name, fresh()]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      const total = totals.get(c.name)!;
      if (total.error) continue;
      try {
        let op = await c.prepare();
        if (round === 0) {
          await drive(op, keySpread, concurrency, warmupMs);
          op = await c.prepare();
        }
        const run = await drive(op, keySpread, concurrency, roundMs, total.histogram);
        total.decisions += run.decisions;
        total.denied += run.denied;
        total.elapsedMs += run.elapsedMs;
        const perSecond = Math.round((run.decisions / run.elapsedMs) * 1000);
        log(`  round ${round + 1}/${rounds} ${c.name}: ${perSecond} decisions/s`);
      } catch (error) {
        total.error = error instanceof Error ? error.message : String(error);
        log(`  ${c.name}: FAILED ${total.error}`);
      }
    }
  }
  return cases.map((c): DecisionResult => {
    const t = totals.get(c.name)!;
    return {
      name: c.name,
      peer: c.peer,
      decisions: t.decisions,
      denied: t.denied,
      elapsedMs: t.elapsedMs,
      perSecond: t.elapsedMs > 0 ? (t.decisions / t.elapsedMs) * 1000 : NaN,
      p50Us: t.histogram.percentile(50),
      p99Us: t.histogram.percentile(99),
      error: t.error || undefined,
    };
  });
}

/** The same ids for every case; each store prefixes them its own way. */
function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `user-${i}`);
}

function ourCall(key: string, algorithm: Algorithm, config: BenchConfig): RuleCall {
  const { limit, windowMs } = config.decisions;
  return { key, algorithm, limit, windowMs, cost: 1, enforce: true };
}

/** Our store's keys, shaped as the guard shapes them (`<prefix>:<rule>:{<id>}`). */
function ourKeys(rule: string, config: BenchConfig): string[] {
  return ids(config.decisions.keySpread).map((id) => `rl:${rule}:{${id}}`);
}

export async function benchDecisions(
  redisUrl: string,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<DecisionsReport> {
  const { limit, windowMs, keySpread } = config.decisions;
  const durationS = windowMs / 1000;
  const plainIds = ids(keySpread);
  // One connection per contender, same (default) ioredis options, so neither shares the other's pipeline.
  const admin = new Redis(redisUrl);
  const ourClient = new Redis(redisUrl);
  const rlfClient = new Redis(redisUrl);
  await Promise.all([admin.ping(), ourClient.ping(), rlfClient.ping()]);
  const flush = async () => {
    await admin.flushdb();
  };

  try {
    const store = new RedisStore(ourClient);
    const redisCases: DecisionCase[] = ALGORITHMS.map((algorithm) => {
      const keys = ourKeys(algorithm, config);
      return {
        name: `ours RedisStore ${algorithm}`,
        peer: RLF_REDIS,
        prepare: async () => {
          await flush();
          return async (i) => {
            const result = await store.consume([ourCall(keys[i], algorithm, config)]);
            return result.outcomes[0].allowed;
          };
        },
      };
    });
    const fwKeys = ourKeys('two-a', config);
    const tbKeys = ourKeys('two-b', config);
    redisCases.push({
      name: 'ours RedisStore 2 rules in one call (fixed-window + token-bucket)',
      peer: RLF_UNION,
      prepare: async () => {
        await flush();
        return async (i) => {
          const result = await store.consume([
            ourCall(fwKeys[i], 'fixed-window', config),
            ourCall(tbKeys[i], 'token-bucket', config),
          ]);
          return result.outcomes.every((o) => o.allowed);
        };
      },
    });
    const rlfRedis = (keyPrefix: string) =>
      new RateLimiterRedis({ storeClient: rlfClient, points: limit, duration: durationS, keyPrefix });
    const rlf = rlfRedis('rlf');
    redisCases.push({
      name: RLF_REDIS,
      prepare: async () => {
        await flush();
        return (i) => rlf.consume(plainIds[i]).then(() => true, rlfDenied);
      },
    });
    const union = new RateLimiterUnion(rlfRedis('rlf-a'), rlfRedis('rlf-b'));
    redisCases.push({
      name: RLF_UNION,
      prepare: async () => {
        await flush();
        return (i) => union.consume(plainIds[i]).then(() => true, rlfDenied);
      },
    });

    log(`decisions on Redis: ${redisCases.length} cases`);
    const redis = await runCases(redisCases, config, config.decisions.redisRoundMs, log);

    const memoryStores: MemoryStore[] = [];
    const memoryCases: DecisionCase[] = ALGORITHMS.map((algorithm) => {
      const keys = ourKeys(algorithm, config);
      return {
        name: `ours MemoryStore ${algorithm}`,
        peer: RLF_MEMORY,
        prepare: async () => {
          const memory = new MemoryStore();
          memoryStores.push(memory);
          return async (i) => {
            const result = await memory.consume([ourCall(keys[i], algorithm, config)]);
            return result.outcomes[0].allowed;
          };
        },
      };
    });
    memoryCases.push({
      name: RLF_MEMORY,
      prepare: async () => {
        const memory = new RateLimiterMemory({ points: limit, duration: durationS, keyPrefix: 'rlf' });
        return (i) => memory.consume(plainIds[i]).then(() => true, rlfDenied);
      },
    });
    log(`decisions in memory: ${memoryCases.length} cases`);
    const memory = await runCases(memoryCases, config, config.decisions.memoryRoundMs, log);
    for (const m of memoryStores) m.onModuleDestroy();
    return { redis, memory };
  } finally {
    admin.disconnect();
    ourClient.disconnect();
    rlfClient.disconnect();
  }
}
