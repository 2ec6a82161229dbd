import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisStore, type Algorithm } from '@app/rate-limit';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { BenchConfig } from './config.js';
import { ALGORITHMS, defineCeiling, fillRedisLog, repeat, WINDOW_MS } from './decisions.js';
import { runProbe } from './support/probe.js';

export interface HeapResult {
  /** `ours <algorithm>` or `RateLimiterMemory`. */
  store: string;
  bytesPerKey: number;
  error?: string;
}

export interface RedisMemoryResult {
  /** What one key holds, e.g. `ours token-bucket, 1 decision`. */
  label: string;
  /** Keys measured; `MEMORY USAGE` is averaged over them. */
  keys: number;
  bytesPerKey: number;
  error?: string;
}

export interface MemoryReport {
  heap: HeapResult[];
  redis: RedisMemoryResult[];
  heapKeys: number;
}

const PROBE = fileURLToPath(new URL('./memory/probe.js', import.meta.url));
const LIMIT = 1_000;
/**
 * Half the limit: buckets that took one unit refill within a few ms and their keys expire before
 * `MEMORY USAGE` reaches them; half a window's worth keeps every state alive through the count.
 */
const COST = LIMIT / 2;

function probe(
  store: string,
  keys: number,
): Promise<{ bytes?: number; keysHeld?: number; error?: string }> {
  return runProbe(PROBE, [store, String(keys)], ['--expose-gc']);
}

/** Heap per key: one process per store, forced GC before and after one decision on each of N keys. */
async function heapPerKey(keys: number, log: (line: string) => void): Promise<HeapResult[]> {
  const stores: Array<[string, string]> = [
    ...ALGORITHMS.map((a): [string, string] => [`ours:${a}`, `ours MemoryStore ${a}`]),
    ['rlf', 'rate-limiter-flexible RateLimiterMemory'],
  ];
  const results: HeapResult[] = [];
  for (const [id, label] of stores) {
    const r = await probe(id, keys);
    let error = r.error;
    if (!error && r.keysHeld !== undefined && r.keysHeld !== keys)
      error = `held ${r.keysHeld} of ${keys} keys`;
    const bytesPerKey = (r.bytes ?? NaN) / keys;
    results.push({ store: label, bytesPerKey, error });
    log(`  heap ${label}: ${error ? `FAILED ${error}` : `${Math.round(bytesPerKey)} bytes/key`}`);
  }
  return results;
}

/** `MEMORY USAGE` of every key matching the pattern, summed, and how many keys there were. */
async function usage(client: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of found) {
      const used = await client.memory('USAGE', key, 'SAMPLES', 0);
      if (used === null) continue;
      bytes += used;
      keys++;
    }
  } while (cursor !== '0');
  return { bytes, keys };
}

async function redisPerKey(
  redisUrl: string,
  keys: number,
  log: (line: string) => void,
): Promise<RedisMemoryResult[]> {
  const client = new Redis(redisUrl);
  const results: RedisMemoryResult[] = [];
  const measure = async (
    label: string,
    ids: number,
    pattern: string,
    fill: () => Promise<void>,
  ) => {
    try {
      await client.flushdb();
      await fill();
      const used = await usage(client, pattern);
      const bytesPerKey = used.bytes / ids;
      // Fewer keys than identities: some state expired (or was never written) before it was counted.
      const error = used.keys < ids ? `${used.keys} keys for ${ids} identities` : undefined;
      results.push({ label, keys: ids, bytesPerKey, error });
      log(`  Redis ${label}: ${Math.round(bytesPerKey)} bytes/key${error ? ` (${error})` : ''}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      results.push({ label, keys: ids, bytesPerKey: NaN, error: message });
      log(`  Redis ${label}: FAILED ${message}`);
    }
  };
  try {
    const store = new RedisStore(client);
    defineCeiling(client);
    const ids = Array.from({ length: keys }, (_, i) => i);
    const one = (algorithm: Algorithm, key: string, cost = 1) =>
      store.consume([{ key, algorithm, limit: LIMIT, windowMs: WINDOW_MS, cost, enforce: true }]);
    const decision = `1 decision of cost ${COST}`;
    for (const algorithm of ALGORITHMS) {
      await measure(`ours ${algorithm}, ${decision}`, keys, `rl:mem:${algorithm}:*`, async () => {
        await Promise.all(ids.map((i) => one(algorithm, `rl:mem:${algorithm}:{user-${i}}`, COST)));
      });
    }
    await measure(
      `ours sliding-window-log, ${LIMIT.toLocaleString('en-US')} entries`,
      1,
      'rl:log:*',
      () => repeat(LIMIT, 16, () => one('sliding-window-log', 'rl:log:{full}')),
    );
    await measure('ours sliding-window-log, 100,000 entries (filled directly)', 1, 'rl:log:*', () =>
      fillRedisLog(client, 'rl:log:{full}', 100_000),
    );
    await measure(
      `rate-limiter-flexible RateLimiterRedis, ${decision}`,
      keys,
      'rlf:*',
      async () => {
        const rlf = new RateLimiterRedis({
          storeClient: client,
          points: LIMIT,
          duration: WINDOW_MS / 1000,
          keyPrefix: 'rlf',
        });
        await Promise.all(ids.map((i) => rlf.consume(`{user-${i}}`, COST)));
      },
    );
    await measure(`minimal token bucket script, ${decision}`, keys, 'ceiling:*', async () => {
      await Promise.all(
        ids.map((i) =>
          client.benchCeilingTokenBucket(`ceiling:{user-${i}}`, LIMIT, WINDOW_MS, COST),
        ),
      );
    });
    await client.flushdb();
  } finally {
    client.disconnect();
  }
  return results;
}

export async function benchMemory(
  redisUrl: string,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<MemoryReport> {
  log(
    `memory: heap per key (${config.memory.heapKeys} keys per store), Redis MEMORY USAGE (${config.memory.redisKeys} keys)`,
  );
  const heap = await heapPerKey(config.memory.heapKeys, log);
  const redis = await redisPerKey(redisUrl, config.memory.redisKeys, log);
  return { heap, redis, heapKeys: config.memory.heapKeys };
}
