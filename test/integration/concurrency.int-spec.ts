import { Redis } from 'ioredis';
import { ALGORITHM_NAMES } from '../../libs/rate-limit/src/algorithms/index.js';
import type { Algorithm } from '../../libs/rate-limit/src/interfaces/index.js';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { DAYS_31 } from '../support/algorithm-cases.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

const CONNECTIONS = 8;
const CALLS = 1_000;
const LIMIT = 37;

/**
 * Decisions use Redis's own clock here, as in production. A 31-day window keeps every algorithm
 * exact for the second the burst takes: no window boundary to cross (fixed windows are aligned to
 * the epoch, the next edge is days away), and the buckets refill 37 units per 31 days, far from
 * one unit.
 */
describe(`${CALLS} concurrent decisions on one key from ${CONNECTIONS} connections`, () => {
  let server: RedisServer;
  let clients: Redis[] = [];
  let stores: RedisStore[] = [];
  const prefix = keyPrefix('concurrency');

  beforeAll(async () => {
    server = await RedisServer.start();
    clients = Array.from({ length: CONNECTIONS }, () => new Redis(server.url));
    stores = clients.map((client) => new RedisStore(client));
    await Promise.all(clients.map((client) => client.ping()));
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()));
    await server?.stop();
  });

  /** Fires every call at once, spread round-robin over the connections. */
  const burst = (calls: (i: number) => RuleCall[]) =>
    Promise.all(Array.from({ length: CALLS }, (_, i) => stores[i % CONNECTIONS].consume(calls(i))));

  it.each(ALGORITHM_NAMES)(
    '%s admits exactly the limit, each seeing one unit fewer',
    async (algorithm) => {
      const rule = {
        key: stateKey(prefix, algorithm, algorithm, 'client'),
        algorithm,
        limit: LIMIT,
        windowMs: DAYS_31,
      };
      const results = await burst((i) => [
        { ...rule, cost: 1, enforce: true, leaseId: `lease-${i}` },
      ]);
      const admitted = results.filter((r) => r.outcomes[0].allowed);
      expect(admitted).toHaveLength(LIMIT);
      // Atomic decisions: no two admissions saw the same remaining count.
      expect(admitted.map((r) => r.outcomes[0].remaining).sort((a, b) => a - b)).toEqual(
        Array.from({ length: LIMIT }, (_, i) => i),
      );
      const denied = results.filter((r) => !r.outcomes[0].allowed && r.outcomes[0].remaining === 0);
      expect(denied).toHaveLength(CALLS - LIMIT);
      const after = await stores[0].peek([{ ...rule, cost: 1, enforce: true }]);
      expect(after.outcomes[0]).toMatchObject({ allowed: false, remaining: 0 });
    },
  );

  it('two rules on one identity admit the smaller limit, charging the other for those only', async () => {
    const rules: Array<{ algorithm: Algorithm; limit: number }> = [
      { algorithm: 'fixed-window', limit: 50 },
      { algorithm: 'token-bucket', limit: 80 },
    ];
    const calls = (cost: number): RuleCall[] =>
      rules.map(({ algorithm, limit }) => ({
        key: stateKey(prefix, `pair-${algorithm}`, algorithm, 'client'),
        algorithm,
        limit,
        windowMs: DAYS_31,
        cost,
        enforce: true,
      }));
    const results = await burst(() => calls(1));
    expect(results.filter((r) => r.outcomes.every((o) => o.allowed))).toHaveLength(50);
    const after = await stores[0].peek(calls(1));
    expect(after.outcomes.map((o) => o.remaining)).toEqual([0, 30]);
    expect(
      await clients[0].hget(stateKey(prefix, 'pair-fixed-window', 'fixed-window', 'client'), 'c'),
    ).toBe('50');
  });
});
