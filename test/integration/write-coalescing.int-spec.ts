import { Redis } from 'ioredis';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { DAYS_31 } from '../support/algorithm-cases.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

describe('decisions sent in one event-loop turn', () => {
  let server: RedisServer;
  let client: Redis;
  let admin: Redis;
  let store: RedisStore;
  const prefix = keyPrefix('coalesce');
  const call = (id: string, limit: number): RuleCall => ({
    key: stateKey(prefix, 'coalesce', 'fixed-window', id),
    algorithm: 'fixed-window',
    limit,
    windowMs: DAYS_31,
    cost: 1,
    enforce: true,
  });

  /** Read events Redis has processed on all its connections (`INFO stats`). */
  const readsProcessed = async () =>
    Number(/total_reads_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);

  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
    admin = new Redis(server.url);
    store = new RedisStore(client);
    await store.consume([call('warm-up', 1)]);
  });
  afterAll(async () => {
    await Promise.all([client?.quit(), admin?.quit()]);
    await server?.stop();
  });

  it('reach Redis in one write, each decided on its own: 100 calls, exactly the limit of 30 admitted', async () => {
    const before = await readsProcessed();
    const results = await Promise.all(
      Array.from({ length: 100 }, () => store.consume([call('burst', 30)])),
    );
    // This INFO call is one read; the 100 decisions took one (two if Redis woke mid-write).
    const reads = (await readsProcessed()) - before - 1;
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(2);
    expect(results.filter((r) => r.outcomes[0].allowed)).toHaveLength(30);
    expect(results.map((r) => r.outcomes[0].remaining).slice(0, 30)).toEqual(
      Array.from({ length: 30 }, (_, i) => 29 - i),
    );
    expect(await admin.hget(call('burst', 30).key, 'c')).toBe('30');
  });

  it('across turns, every turn gets its own write', async () => {
    const before = await readsProcessed();
    for (let i = 0; i < 5; i++) await store.consume([call('turns', 100)]);
    expect((await readsProcessed()) - before - 1).toBe(5);
  });

  it('a Redis restart in between loses no decision: the socket corked then is not the one used after', async () => {
    await server.restart();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.consume([call('restart', 10)])),
    );
    expect(results.filter((r) => r.outcomes[0].allowed)).toHaveLength(10);
  });
});
