import { Redis } from 'ioredis';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { DAYS_31 } from '../support/algorithm-cases.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

describe('decisions asked for in one event-loop turn', () => {
  let server: RedisServer;
  let client: Redis;
  let admin: Redis;
  let store: RedisStore;
  const prefix = keyPrefix('batch');
  const call = (id: string, limit: number, algorithm: RuleCall['algorithm'] = 'fixed-window') => ({
    key: stateKey(prefix, 'batch', algorithm, id),
    algorithm,
    limit,
    windowMs: DAYS_31,
    cost: 1,
    enforce: true,
  });

  /** Script calls Redis has run, EVALSHA and EVAL (`INFO commandstats`). */
  const scriptCalls = async () => {
    let calls = 0;
    const stats = await admin.info('commandstats');
    for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm))
      calls += Number(match[1]);
    return calls;
  };
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

  it('are decided by one script call, each on its own: 16 requests, exactly the limit of 10 admitted, in order', async () => {
    const before = await scriptCalls();
    const results = await Promise.all(
      Array.from({ length: 16 }, () => store.consume([call('one-call', 10)])),
    );
    expect((await scriptCalls()) - before).toBe(1);
    expect(results.map((r) => r.outcomes[0].allowed)).toEqual(
      Array.from({ length: 16 }, (_, i) => i < 10),
    );
    expect(results.slice(0, 10).map((r) => r.outcomes[0].remaining)).toEqual(
      Array.from({ length: 10 }, (_, i) => 9 - i),
    );
  });

  it('100 requests take seven calls of at most 16, exactly the limit of 30 admitted, in order', async () => {
    const before = await scriptCalls();
    const results = await Promise.all(
      Array.from({ length: 100 }, () => store.consume([call('burst', 30)])),
    );
    expect((await scriptCalls()) - before).toBe(7);
    expect(results.map((r) => r.outcomes[0].allowed)).toEqual(
      Array.from({ length: 100 }, (_, i) => i < 30),
    );
    expect(results.slice(0, 30).map((r) => r.outcomes[0].remaining)).toEqual(
      Array.from({ length: 30 }, (_, i) => 29 - i),
    );
    expect(await admin.hget(call('burst', 30).key, 'c')).toBe('30');
  });

  it('a batch that fills is written at once, while the rest of the turn waits for its end', async () => {
    const stream = client.stream as unknown as { writableCorked: number; writableLength: number };
    const pending = Array.from({ length: 15 }, () => store.consume([call('full-batch', 100)]));
    expect(stream.writableCorked).toBe(0);
    pending.push(store.consume([call('full-batch', 100)]));
    // The sixteenth request filled the batch: written, nothing held or buffered.
    expect(stream.writableCorked).toBe(0);
    expect(stream.writableLength).toBe(0);
    pending.push(store.consume([call('full-batch', 100)]));
    const results = await Promise.all(pending);
    expect(results.map((r) => r.outcomes[0].remaining)).toEqual(
      Array.from({ length: 17 }, (_, i) => 99 - i),
    );
  });

  it('250 requests take 16 calls, and every key gets its own exact count', async () => {
    const before = await scriptCalls();
    const results = await Promise.all(
      Array.from({ length: 250 }, (_, i) => store.consume([call(`many-${i % 5}`, 40)])),
    );
    expect((await scriptCalls()) - before).toBe(16);
    for (let k = 0; k < 5; k++) {
      const admitted = results.filter((r, i) => i % 5 === k && r.outcomes[0].allowed);
      expect(admitted).toHaveLength(40);
    }
  });

  it('one bad key among many fails its own request only: WRONGTYPE and an unknown algorithm', async () => {
    await admin.set(call('not-a-hash', 10).key, 'a string');
    const settled = await Promise.allSettled([
      store.consume([call('good-1', 10)]),
      store.consume([call('not-a-hash', 10)]),
      store.consume([call('good-2', 10), call('good-3', 10)]),
      store.consume([{ ...call('bad-algo', 10), algorithm: 'nope' as RuleCall['algorithm'] }]),
      store.consume([call('good-1', 10)]),
    ]);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const reason = (i: number) => (settled[i] as PromiseRejectedResult).reason as Error;
    expect(reason(1)).toMatchObject({ name: 'ReplyError' });
    expect(reason(1).message).toMatch(/^WRONGTYPE/);
    expect(reason(3).message).toMatch(/^ERR unknown algorithm nope/);
    const value = (i: number) =>
      (settled[i] as PromiseFulfilledResult<{ outcomes: unknown }>).value;
    expect(value(0).outcomes).toMatchObject([{ allowed: true, remaining: 9 }]);
    expect(value(2).outcomes).toMatchObject([
      { allowed: true, remaining: 9 },
      { allowed: true, remaining: 9 },
    ]);
    expect(value(4).outcomes).toMatchObject([{ allowed: true, remaining: 8 }]);
    expect(await admin.get(call('not-a-hash', 10).key)).toBe('a string');
  });

  it('a look, a charge and a refund in one call are applied in the order they were asked', async () => {
    const key = call('mixed', 5, 'token-bucket');
    const first = await store.consume([key]);
    const [look, charge, refund] = await Promise.all([
      store.peek([{ ...key, cost: 0 }]),
      store.consume([key]),
      store.refund([key], first.now),
    ]);
    expect(look.outcomes[0]).toMatchObject({ allowed: true, remaining: 4 });
    expect(charge.outcomes[0]).toMatchObject({ allowed: true, remaining: 3 });
    expect(refund.outcomes[0]).toMatchObject({ allowed: true, remaining: 4 });
  });

  it('calls on a fake clock go alone, and the calls of one turn still share one write', async () => {
    const calls = await scriptCalls();
    const reads = await readsProcessed();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.consume([call('fake-clock', 20)], 1_000 + i)),
    );
    expect((await scriptCalls()) - calls).toBe(50);
    // The first INFO call above is one read; the 50 calls took one (two if Redis woke mid-write).
    const readsTaken = (await readsProcessed()) - reads - 1;
    expect(readsTaken).toBeGreaterThanOrEqual(1);
    expect(readsTaken).toBeLessThanOrEqual(2);
    expect(results.filter((r) => r.outcomes[0].allowed)).toHaveLength(20);
    expect(results[0].now).toBe(1_000);
  });

  it('across turns, every turn gets its own call', async () => {
    const before = await scriptCalls();
    for (let i = 0; i < 5; i++) await store.consume([call('turns', 100)]);
    expect((await scriptCalls()) - before).toBe(5);
  });

  it('a Redis restart in between loses no decision: the socket corked then is not the one used after', async () => {
    await server.restart();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.consume([call('restart', 10)])),
    );
    expect(results.filter((r) => r.outcomes[0].allowed)).toHaveLength(10);
  });
});
