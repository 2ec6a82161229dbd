import { Redis } from 'ioredis';
import { ALGORITHM_NAMES } from '../../libs/rate-limit/src/algorithms/index.js';
import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { T0 } from '../support/algorithm-cases.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/** Decisions at fake times close together, with one-minute windows: far longer than the test. */
const NOW = T0 + 5_000;
const WINDOW = 60_000;

describe('several rules in one call: all or nothing', () => {
  let server: RedisServer;
  let client: Redis;
  let store: RedisStore;
  const prefix = keyPrefix('all-or-nothing');
  let n = 0;

  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
    store = new RedisStore(client);
  });
  afterAll(async () => {
    await client?.quit();
    await server?.stop();
  });

  const rule = (algorithm: Algorithm, limit: number, cost = 1, enforce = true): RuleCall => ({
    key: stateKey(prefix, `${algorithm}-${++n}`, algorithm, 'caller'),
    algorithm,
    limit,
    windowMs: WINDOW,
    cost,
    enforce,
    leaseId: algorithm === 'concurrency' ? `lease-${n}` : undefined,
  });
  const again = (call: RuleCall, cost = call.cost): RuleCall => ({
    ...call,
    cost,
    leaseId: call.leaseId && `${call.leaseId}-${++n}`,
  });

  /** Everything Redis holds for a key: its serialized value and its absolute expiry. */
  const holds = async (key: string) => ({
    value: (await client.dumpBuffer(key))?.toString('hex') ?? null,
    expiresAt: await client.call('PEXPIRETIME', key),
  });

  /** A fixed window of 1 that has already been used: it denies the next request. */
  async function exhaustedBlocker(): Promise<RuleCall> {
    const blocker = rule('fixed-window', 1);
    expect((await store.consume([blocker], NOW)).outcomes[0].allowed).toBe(true);
    return again(blocker);
  }

  it.each(ALGORITHM_NAMES)(
    'a %s rule that admits is not charged when another rule denies, and reports what it still has',
    async (algorithm) => {
      const admitting = rule(algorithm, 5);
      await store.consume([admitting], NOW);
      await store.consume([again(admitting)], NOW + 1);
      const blocker = await exhaustedBlocker();
      const before = await Promise.all([holds(admitting.key), holds(blocker.key)]);

      const result = await store.consume([again(admitting), blocker], NOW + 2);

      expect(result.outcomes.map(({ allowed, remaining }) => ({ allowed, remaining }))).toEqual([
        { allowed: true, remaining: 3 },
        { allowed: false, remaining: 0 },
      ]);
      expect(await Promise.all([holds(admitting.key), holds(blocker.key)])).toEqual(before);
      // Still 3 left: the denied call took nothing.
      const next = await store.consume([again(admitting)], NOW + 3);
      expect(next.outcomes[0]).toMatchObject({ allowed: true, remaining: 2 });
    },
  );

  it('the first rule denying stops the charge of a later one as much as the reverse', async () => {
    const blocker = await exhaustedBlocker();
    const admitting = rule('sliding-window-log', 3);
    const result = await store.consume([blocker, admitting], NOW);
    expect(result.outcomes.map((o) => o.allowed)).toEqual([false, true]);
    expect(result.outcomes[1].remaining).toBe(3);
    expect(await client.exists(admitting.key)).toBe(0);
  });

  it('a dry-run rule that would deny neither blocks nor is charged; the enforced rule is', async () => {
    const enforced = rule('token-bucket', 5);
    const dryRun = { ...(await exhaustedBlocker()), enforce: false };
    const dryRunBefore = await holds(dryRun.key);

    const result = await store.consume([enforced, dryRun], NOW);

    expect(result.outcomes.map(({ allowed, remaining }) => ({ allowed, remaining }))).toEqual([
      { allowed: true, remaining: 4 },
      { allowed: false, remaining: 0 },
    ]);
    expect(await holds(dryRun.key)).toEqual(dryRunBefore);
    expect(await client.hget(enforced.key, 'ts')).toBe(String(NOW));
  });

  it('a dry-run rule that admits is charged with the request', async () => {
    const dryRun = rule('fixed-window', 2, 1, false);
    const result = await store.consume([rule('gcra', 5), dryRun], NOW);
    expect(result.outcomes.map((o) => o.remaining)).toEqual([4, 1]);
    expect(await client.hget(dryRun.key, 'c')).toBe('1');
  });

  it('an enforced denial next to a dry-run rule still charges nothing', async () => {
    const dryRun = rule('fixed-window', 2, 1, false);
    const blocker = await exhaustedBlocker();
    const result = await store.consume([dryRun, blocker], NOW);
    expect(result.outcomes.map(({ allowed, remaining }) => ({ allowed, remaining }))).toEqual([
      { allowed: true, remaining: 2 },
      { allowed: false, remaining: 0 },
    ]);
    expect(await client.exists(dryRun.key)).toBe(0);
  });

  describe.each(ALGORITHM_NAMES)('%s: a look changes nothing Redis holds', (algorithm) => {
    it('cost 0 and peek on a key with state', async () => {
      const call = rule(algorithm, 4);
      await store.consume([call], NOW);
      const before = await holds(call.key);
      const looks = [
        await store.consume([again(call, 0)], NOW + 1),
        await store.peek([again(call, 1)], NOW + 1),
        await store.peek([again(call, 0)], NOW + 1),
      ];
      expect(looks.map((r) => r.outcomes[0])).toEqual([
        expect.objectContaining({ allowed: true, remaining: 3 }),
        expect.objectContaining({ allowed: true, remaining: 3 }),
        expect.objectContaining({ allowed: true, remaining: 3 }),
      ]);
      expect(await holds(call.key)).toEqual(before);
    });

    it('cost 0 and peek on a key without state create none', async () => {
      const call = rule(algorithm, 4);
      const looks = [
        await store.consume([again(call, 0)], NOW),
        await store.peek([again(call, 1)], NOW),
      ];
      expect(looks.map((r) => r.outcomes[0].remaining)).toEqual([4, 4]);
      expect(await client.exists(call.key)).toBe(0);
    });
  });
});
