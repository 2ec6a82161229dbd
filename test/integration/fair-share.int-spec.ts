import { Redis } from 'ioredis';
import type { ShareInput } from '../../libs/rate-limit/src/algorithms/weighted-token-bucket.js';
import { MemoryStore } from '../../libs/rate-limit/src/stores/memory.store.js';
import type {
  RateLimitStore,
  RuleCall,
} from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { T0 } from '../support/algorithm-cases.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * Priority classes sharing one budget, flooded on a fake clock (the scripts' test-only `now`),
 * through the memory store and through Redis: admissions are counted exactly, with no timing
 * noise.
 */
const CAP = 40;
const WINDOW = 1_000;

interface Flood {
  /** Class name -> attempts per second (each spread evenly over the second). */
  demand: Record<string, number>;
  weights: Array<[string, number]>;
  seconds: number;
  /** Extra rules charged with the shared one (a tenant's own budget), per class. */
  tenant?: (cls: string) => RuleCall | undefined;
}

/** Admission times per class. */
async function flood(
  store: RateLimitStore,
  key: string,
  f: Flood,
): Promise<Record<string, number[]>> {
  const attempts: Array<{ at: number; cls: string }> = [];
  for (const [cls, perSecond] of Object.entries(f.demand)) {
    const every = 1_000 / perSecond;
    for (let t = 0; t < f.seconds * 1_000; t += every) attempts.push({ at: Math.floor(t), cls });
  }
  attempts.sort((a, b) => a.at - b.at || (a.cls < b.cls ? -1 : 1));
  const admitted: Record<string, number[]> = Object.fromEntries(
    Object.keys(f.demand).map((c) => [c, []]),
  );
  for (const { at, cls } of attempts) {
    const share: ShareInput = { weights: f.weights, cls };
    const shared: RuleCall = {
      key,
      algorithm: 'weighted-token-bucket',
      limit: CAP,
      windowMs: WINDOW,
      cost: 1,
      enforce: true,
      share,
    };
    const tenant = f.tenant?.(cls);
    const calls = tenant ? [tenant, shared] : [shared];
    const { outcomes } = await store.consume(calls, T0 + at);
    if (outcomes.every((o) => o.allowed)) admitted[cls].push(at);
  }
  return admitted;
}

const within = (times: number[], from: number, to: number) =>
  times.filter((t) => t >= from && t < to).length;

/** The most admitted in any span of `span` ms (spans starting every 50 ms). */
function busiest(all: number[], span: number, end: number): number {
  let most = 0;
  for (let from = 0; from + span <= end; from += 50)
    most = Math.max(most, within(all, from, from + span));
  return most;
}

describe.each(['memory', 'redis'] as const)('weighted fair sharing on the %s store', (kind) => {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  let store: RateLimitStore;
  const prefix = keyPrefix(`fair-${kind}`);
  let n = 0;
  const key = () => `${prefix}:shared:wtb:{global-${++n}}`;

  beforeAll(async () => {
    if (kind === 'memory') {
      store = new MemoryStore({ sweepIntervalMs: 0 });
      return;
    }
    server = await RedisServer.start();
    client = new Redis(server.url);
    store = new RedisStore(client);
  });
  afterAll(async () => {
    if (store instanceof MemoryStore) store.onModuleDestroy();
    client?.disconnect();
    await server?.stop();
  });

  it('splits 3:1 within 15% over any 2 s after the first while both ask for more, never above cap + burst', async () => {
    const admitted = await flood(store, key(), {
      demand: { high: 100, low: 100 },
      weights: [
        ['high', 3],
        ['low', 1],
      ],
      seconds: 5,
    });
    for (let from = 1_000; from + 2_000 <= 5_000; from += 250) {
      const ratio =
        within(admitted.high, from, from + 2_000) / within(admitted.low, from, from + 2_000);
      expect(ratio).toBeGreaterThanOrEqual(3 * 0.85);
      expect(ratio).toBeLessThanOrEqual(3 * 1.15);
    }
    const all = [...admitted.high, ...admitted.low];
    // The cap per second, plus one burst of the cap at most.
    expect(busiest(all, 1_000, 5_000)).toBeLessThanOrEqual(2 * CAP);
    expect(busiest(all, 2_000, 5_000)).toBeLessThanOrEqual(3 * CAP);
    // Work-conserving: together they use the whole cap.
    expect(within(all, 1_000, 5_000)).toBeGreaterThanOrEqual(4 * CAP - 2);
  });

  it('gives a class alone the whole cap', async () => {
    const admitted = await flood(store, key(), {
      demand: { high: 100 },
      weights: [
        ['high', 3],
        ['low', 1],
      ],
      seconds: 4,
    });
    expect(within(admitted.high, 1_000, 4_000)).toBeGreaterThanOrEqual(3 * CAP - 2);
    expect(within(admitted.high, 1_000, 4_000)).toBeLessThanOrEqual(3 * CAP + 1);
  });

  it('splits 1:2:5 among three classes', async () => {
    const admitted = await flood(store, key(), {
      demand: { a: 100, b: 100, c: 100 },
      weights: [
        ['a', 1],
        ['b', 2],
        ['c', 5],
      ],
      seconds: 5,
    });
    const counts = ['a', 'b', 'c'].map((c) => within(admitted[c], 1_000, 5_000));
    const total = counts.reduce((x, y) => x + y);
    [1, 2, 5].forEach((weight, i) => {
      expect(counts[i] / total).toBeGreaterThanOrEqual((weight / 8) * 0.85);
      expect(counts[i] / total).toBeLessThanOrEqual((weight / 8) * 1.15);
    });
  });

  it('keeps a flooding tenant to its own budget under the global cap, and a quiet tenant gets all it asks', async () => {
    const tenantKey = key();
    const admitted = await flood(store, key(), {
      demand: { flooder: 200, quiet: 10 },
      weights: [
        ['flooder', 1],
        ['quiet', 1],
      ],
      seconds: 4,
      // Each tenant's own token bucket of 20 per second, charged with the global one, all or nothing.
      tenant: (cls) => ({
        key: `${tenantKey}:${cls}`,
        algorithm: 'token-bucket',
        limit: 20,
        windowMs: WINDOW,
        cost: 1,
        enforce: true,
      }),
    });
    expect(within(admitted.quiet, 0, 4_000)).toBe(40);
    expect(within(admitted.flooder, 1_000, 4_000)).toBeLessThanOrEqual(3 * 20 + 1);
    expect(busiest([...admitted.flooder, ...admitted.quiet], 1_000, 4_000)).toBeLessThanOrEqual(
      2 * CAP,
    );
  });
});
