import { Redis } from 'ioredis';
import { RateLimitStatusService } from '@app/rate-limit';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { waitFor } from '../support/load.js';
import { RedisServer } from '../support/redis-server.js';

const TOKEN = 'deny-cache-admin-token-0123456789';

/** Script calls Redis has run since start. */
async function scriptCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm))
    calls += Number(match[1]);
  return calls;
}

/** What a client reads from a limited answer. */
async function answer(url: string) {
  const res = await fetch(url);
  const body = (await res.json()) as Record<string, unknown>;
  const header = (name: string) => res.headers.get(name);
  return {
    status: res.status,
    body,
    limit: header('x-ratelimit-limit'),
    remaining: header('x-ratelimit-remaining'),
    reset: Number(header('x-ratelimit-reset')),
    retryAfter: Number(header('retry-after')),
    policy: header('ratelimit-policy'),
    rateLimit: header('ratelimit'),
  };
}

describe('the deny cache: two instances, one Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let express: RunningApp;
  let fastify: RunningApp;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.port, '127.0.0.1');
    const prefix = uniquePrefix('deny-cache');
    [express, fastify] = await Promise.all(
      (['express', 'fastify'] as const).map((adapter) =>
        startDemo(
          { REDIS_URL: server.url, HTTP_ADAPTER: adapter, ADMIN_TOKEN: TOKEN },
          { keyPrefix: prefix },
        ),
      ),
    );
  });
  afterAll(async () => {
    await express?.close();
    await fastify?.close();
    redis?.disconnect();
    await server?.stop();
  });

  it('answers a flood of denied requests locally with the headers Redis gave, then a reset elsewhere ends it within 2 s', async () => {
    for (let i = 0; i < 10; i++)
      expect((await answer(`${express.url}/api/public`)).status).toBe(200);
    const fromRedis = await answer(`${express.url}/api/public`);
    expect(fromRedis.status).toBe(429);

    const before = await scriptCalls(redis);
    const flood = [];
    for (let i = 0; i < 100; i++) flood.push(await answer(`${express.url}/api/public`));
    const used = (await scriptCalls(redis)) - before;
    // At least 90% fewer Redis calls than denied requests.
    expect(used).toBeLessThanOrEqual(10);
    expect(
      express.app.get(RateLimitStatusService).snapshot().stats?.cachedDenials,
    ).toBeGreaterThanOrEqual(90);
    for (const local of flood) {
      expect(local.status).toBe(429);
      expect(local.body).toEqual({ ...fromRedis.body, retryAfter: local.retryAfter });
      expect(local).toEqual(
        expect.objectContaining({
          limit: fromRedis.limit,
          remaining: '0',
          policy: fromRedis.policy,
          reset: fromRedis.reset,
        }),
      );
      expect(Math.abs(local.retryAfter - fromRedis.retryAfter)).toBeLessThanOrEqual(1);
      expect(local.body.retryAfter).toBe(local.retryAfter);
    }

    const reset = await fetch(`${fastify.url}/admin/rules/public/keys/127.0.0.1`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(reset.status).toBe(204);
    const took = await waitFor(
      async () => (await answer(`${express.url}/api/public`)).status === 200,
      2_000,
      50,
    );
    expect(took).toBeLessThan(2_000);
  });
});
