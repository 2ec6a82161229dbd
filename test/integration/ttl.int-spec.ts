import { Redis } from 'ioredis';
import { ALGORITHMS, ALGORITHM_NAMES } from '../../libs/rate-limit/src/algorithms/index.js';
import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { T0 } from '../support/algorithm-cases.js';
import { int, pick, seeded } from '../support/random.js';
import { keyPrefix, keysWithTtl } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/** Redis `TIME` in epoch ms. */
const redisMs = ([seconds, micros]: Array<string | number>) =>
  Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);

/** How long each algorithm's state can matter: the counter's current window weighs on the next one. */
const needed = (algorithm: Algorithm, windowMs: number) =>
  algorithm === 'sliding-window-counter' ? 2 * windowMs : windowMs;

describe('every key has a TTL, no longer than its state matters', () => {
  let server: RedisServer;
  let client: Redis;
  let store: RedisStore;

  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
    store = new RedisStore(client);
  });
  afterAll(async () => {
    await client?.quit();
    await server?.stop();
  });

  it("after mixed traffic on every algorithm, on Redis's own clock", async () => {
    const prefix = keyPrefix('ttl-mixed');
    const windows = [2_000, 60_000, 3_600_000];
    const rules = ALGORITHM_NAMES.flatMap((algorithm) =>
      windows.map((windowMs, i) => ({ algorithm, windowMs, limit: [1, 3, 10][i] })),
    );
    const rnd = seeded(7);
    const leases: Array<{ key: string; leaseId: string }> = [];
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        ['alice', 'bob', 'carol'].map(async (id) => {
          // One to three rules per call, costs from 0 to above the limit, some dry-run, some peeks.
          const calls: RuleCall[] = Array.from({ length: int(rnd, 1, 3) }, () => {
            const { algorithm, windowMs, limit } = pick(rnd, rules);
            return {
              key: stateKey(prefix, `${algorithm}.${windowMs}`, algorithm, id),
              algorithm,
              limit,
              windowMs,
              cost: algorithm === 'concurrency' ? int(rnd, 0, 1) : int(rnd, 0, limit + 1),
              enforce: rnd() < 0.8,
              leaseId: algorithm === 'concurrency' ? `${id}-${round}-${rnd()}` : undefined,
            };
          });
          const unique = calls.filter((c, i) => calls.findIndex((d) => d.key === c.key) === i);
          const result = rnd() < 0.15 ? await store.peek(unique) : await store.consume(unique);
          unique.forEach((c, i) => {
            if (c.leaseId && result.outcomes[i].allowed)
              leases.push({ key: c.key, leaseId: c.leaseId });
          });
        }),
      );
      if (leases.length > 0 && rnd() < 0.3) {
        const { key, leaseId } = leases.splice(int(rnd, 0, leases.length - 1), 1)[0];
        await store.release(key, leaseId);
      }
    }

    const keys = await keysWithTtl(client, prefix);
    const seen = new Set<string>();
    const wrong: string[] = [];
    for (const [key, pttl] of keys) {
      // `<prefix>:<algorithm>.<window>:<algorithm tag>:{<id>}`
      const rule = key.slice(prefix.length + 1, key.indexOf(':{'));
      const [algorithm, windowMs] = rule.slice(0, rule.lastIndexOf(':')).split('.');
      seen.add(algorithm);
      // Gone between SCAN and PTTL: it expired, so it had a TTL.
      if (pttl === -2) continue;
      const bound = needed(algorithm as Algorithm, Number(windowMs));
      if (!(pttl > 0 && pttl <= bound))
        wrong.push(`${key}: PTTL ${pttl}, at most ${bound} expected`);
    }
    expect(wrong).toEqual([]);
    expect([...seen].sort()).toEqual([...ALGORITHM_NAMES].sort());
  });

  it.each(ALGORITHM_NAMES)(
    "%s: the TTL set is exactly the reference algorithm's",
    async (algorithm) => {
      const prefix = keyPrefix(`ttl-exact-${algorithm}`);
      const failures: string[] = [];
      for (let seed = 1; seed <= 5; seed++) {
        const rnd = seeded(seed);
        const limit = pick(rnd, [1, 3, 10, 100]);
        const windowMs = pick(rnd, [10_000, 60_000, 3_600_000]);
        const key = stateKey(prefix, 'rule', algorithm, `seed-${seed}`);
        let now = T0 + int(rnd, 0, windowMs);
        let state: unknown;
        for (let i = 0; i < 25; i++) {
          now += rnd() < 0.3 ? 0 : int(rnd, 1, Math.ceil(windowMs / limit));
          const call: RuleCall = {
            key,
            algorithm,
            limit,
            windowMs,
            cost: int(rnd, 1, Math.min(limit, 3)),
            enforce: true,
            leaseId: `lease-${i}`,
          };
          const reference = ALGORITHMS[algorithm].decide(state, { ...call, now });
          // Redis's TIME before and after bound the instant the script set the TTL.
          const before = redisMs(await client.time());
          const { outcomes } = await store.consume([call], now);
          const after = redisMs(await client.time());
          const expiresAt = Number(await client.call('PEXPIRETIME', key));
          expect({ seed, i, allowed: outcomes[0].allowed }).toEqual({
            seed,
            i,
            allowed: reference.allowed,
          });
          if (!reference.allowed) continue;
          state = reference.next;
          // Only TTLs long enough to read back before they run out are checked.
          const ttl = reference.ttlMs;
          if (ttl >= 1_000 && !(expiresAt - after <= ttl && ttl <= expiresAt - before)) {
            const range = `${expiresAt - after}..${expiresAt - before}`;
            failures.push(`seed ${seed} #${i}: TTL ${range}, reference ${ttl}`);
          }
        }
      }
      expect(failures).toEqual([]);
    },
  );
});
