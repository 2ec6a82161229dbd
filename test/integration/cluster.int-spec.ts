import { Cluster, type Redis } from 'ioredis';
import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { blockKey, stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { DAYS_31 } from '../support/algorithm-cases.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { keyPrefix } from '../support/redis-client.js';

/** The rules of one request, all keyed by the same identity: the smallest limit binds. */
const RULES: Array<{ name: string; algorithm: Algorithm; limit: number }> = [
  { name: 'per-minute', algorithm: 'fixed-window', limit: 7 },
  { name: 'burst', algorithm: 'token-bucket', limit: 12 },
  { name: 'sliding', algorithm: 'sliding-window-log', limit: 9 },
];

describe('Redis Cluster (3 masters)', () => {
  let redisCluster: RedisCluster;
  let client: Cluster;
  let store: RedisStore;
  const prefix = keyPrefix('cluster');

  beforeAll(async () => {
    redisCluster = await RedisCluster.start(3);
    client = new Cluster(redisCluster.startupNodes);
    store = new RedisStore(client);
  });
  afterAll(async () => {
    await client?.quit();
    await redisCluster?.stop();
  });

  const callsFor = (identity: string, cost = 1): RuleCall[] =>
    RULES.map(({ name, algorithm, limit }) => ({
      key: stateKey(prefix, name, algorithm, identity),
      algorithm,
      limit,
      windowMs: DAYS_31,
      cost,
      enforce: true,
    }));

  const slot = async (key: string) => Number(await client.cluster('KEYSLOT', key));

  const identities = Array.from({ length: 12 }, (_, i) => `client-${i}`);

  it('decides several rules of one identity in one script, on whichever master owns it', async () => {
    const perIdentity = await Promise.all(
      identities.map((identity) =>
        Promise.all(Array.from({ length: 20 }, () => store.consume(callsFor(identity)))),
      ),
    );
    const admitted = perIdentity.map(
      (results) => results.filter((r) => r.outcomes.every((o) => o.allowed)).length,
    );
    expect(admitted).toEqual(identities.map(() => 7));
    const after = await store.peek(callsFor(identities[0]));
    expect(after.outcomes.map((o) => o.remaining)).toEqual([0, 5, 2]);
  });

  it('batches a turn by slot: a request whose keys span two slots fails alone, its neighbours are decided', async () => {
    const spanning = [callsFor('span-a')[0], callsFor('span-b')[0]];
    expect(await slot(spanning[0].key)).not.toBe(await slot(spanning[1].key));
    const settled = await Promise.allSettled([
      store.consume([callsFor('span-a')[0]]),
      store.consume(spanning),
      store.consume([callsFor('span-b')[0]]),
      store.consume([callsFor('span-a')[0]]),
    ]);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/CROSSSLOT/);
    const remaining = settled.map((s) =>
      s.status === 'fulfilled' ? s.value.outcomes[0].remaining : undefined,
    );
    expect(remaining).toEqual([6, undefined, 6, 5]);
  });

  it("keeps a block in its rule key's slot: blocks, refunds and resets of every identity work on any master", async () => {
    const blocked = identities.map((identity) => ({
      ...callsFor(identity)[0],
      algorithm: 'token-bucket' as const,
      limit: 1,
      windowMs: 10_000,
      blockMs: 60_000,
      // Braces in an identity are escaped: its block still lands beside its state.
      key: stateKey(prefix, 'blocked', 'token-bucket', `${identity}}{x`),
    }));
    for (const call of blocked) {
      expect((await store.consume([call])).outcomes[0].allowed).toBe(true);
      const denied = await store.consume([call]);
      expect(denied.outcomes[0]).toMatchObject({ allowed: false, retryAfterMs: 60_000 });
      expect(await slot(blockKey(call.key))).toBe(await slot(call.key));
      expect(await client.pttl(blockKey(call.key))).toBeGreaterThan(0);
    }
    await store.refund([blocked[0]], Date.now());
    await store.reset(blocked.map((c) => c.key));
    for (const call of blocked)
      expect((await store.consume([call])).outcomes[0].allowed).toBe(true);
  });

  it('spreads identities over every master', async () => {
    const masters = client.nodes('master');
    const sizes = await Promise.all(masters.map((node: Redis) => node.dbsize()));
    expect(masters).toHaveLength(3);
    expect(sizes.every((size) => size > 0)).toBe(true);
  });

  it('keeps one identity in one slot, and refuses two identities in different slots', async () => {
    const slots = await Promise.all(callsFor('alice').map((c) => slot(c.key)));
    expect(new Set(slots).size).toBe(1);
    let other = 'bob';
    for (let i = 0; (await slot(callsFor(other)[0].key)) === slots[0]; i++) other = `bob-${i}`;
    await expect(store.consume([callsFor('alice')[0], callsFor(other)[0]])).rejects.toThrow(
      /CROSSSLOT/,
    );
  });

  it('an identity with braces cannot pick the slot of another identity', async () => {
    const victim = await slot(stateKey(prefix, 'per-minute', 'fixed-window', 'victim'));
    const attacker = callsFor('{victim}');
    expect(await slot(attacker[0].key)).not.toBe(victim);
    // Its own rules still share one slot, so its decisions work.
    expect((await store.consume(attacker)).outcomes.every((o) => o.allowed)).toBe(true);
  });
});
