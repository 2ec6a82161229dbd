/**
 * Heap held by one store after one decision on each of N distinct keys, in a fresh process so
 * nothing else shares the heap. Usage: `node --expose-gc probe.js <ours:<algorithm>|rlf> <keys>`;
 * reports `{ bytes, keysHeld }` (or `{ error }`) over IPC.
 */
import { MemoryStore, type Algorithm } from '@app/rate-limit';
import { RateLimiterMemory } from 'rate-limiter-flexible';

const send = (message: unknown) =>
  new Promise<void>((resolve) => process.send!(message, () => resolve()));

const [store, keysArg] = process.argv.slice(2) as [string, string];
const keys = Number(keysArg);
const WINDOW_MS = 60_000;
const LIMIT = 10_000;

/** Several passes: one full GC can leave garbage that a finalizer or weak reference freed late. */
function heapAfterGc(): number {
  const gc = globalThis.gc;
  if (!gc) throw new Error('run node with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

// Identical key strings in both stores, `rl:bench:{user-<i>}`: rate-limiter-flexible joins its
// prefix and the key with ':'.
/** Module scope keeps each store reachable through the second measurement. */
const retained: unknown[] = [];

try {
  let keysHeld: number | undefined;
  const before = heapAfterGc();
  if (store === 'rlf') {
    const limiter = new RateLimiterMemory({
      points: LIMIT,
      duration: WINDOW_MS / 1000,
      keyPrefix: 'rl',
    });
    for (let i = 0; i < keys; i++) await limiter.consume(`bench:{user-${i}}`);
    retained.push(limiter);
  } else {
    const algorithm = store.slice('ours:'.length) as Algorithm;
    // No sweep and no eviction: every key stays, as it does in rate-limiter-flexible for the window.
    const memory = new MemoryStore({ maxKeys: keys * 2, sweepIntervalMs: 0 });
    for (let i = 0; i < keys; i++) {
      const key = `rl:bench:{user-${i}}`;
      await memory.consume([
        { key, algorithm, limit: LIMIT, windowMs: WINDOW_MS, cost: 1, enforce: true },
      ]);
    }
    retained.push(memory);
    keysHeld = memory.size;
  }
  const after = heapAfterGc();
  await send({ bytes: after - before, keysHeld, stores: retained.length });
} catch (error) {
  await send({ error: error instanceof Error ? error.message : String(error) });
}
