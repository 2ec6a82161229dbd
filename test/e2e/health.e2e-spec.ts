import request from 'supertest';
import { ADAPTERS, startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { waitFor } from '../support/load.js';
import { RedisServer } from '../support/redis-server.js';

/** README "Health endpoints": `/health` and `/health/redis`, whole bodies, on both HTTP adapters. */

const ok = <T extends object>(indicators: T) => ({
  status: 'ok',
  info: indicators,
  error: {},
  details: indicators,
});
const failing = <T extends object>(indicators: T) => ({
  status: 'error',
  info: {},
  error: indicators,
  details: indicators,
});

describe.each(ADAPTERS)('health on %s', (adapter) => {
  describe('without Redis', () => {
    let demo: RunningApp;
    beforeAll(async () => {
      demo = await startDemo({ HTTP_ADAPTER: adapter });
    });
    afterAll(() => demo?.close());

    it('reports the in-memory store, not degraded, and Redis as memory-only', async () => {
      const health = await request(demo.url).get('/health').expect(200);
      expect(health.body).toEqual(
        ok({ rate_limit: { status: 'up', store: 'memory', breaker: 'closed', degraded: false } }),
      );
      expect(health.headers['x-ratelimit-limit']).toBeUndefined();
      const redis = await request(demo.url).get('/health/redis').expect(200);
      expect(redis.body).toEqual(ok({ redis: { status: 'up', mode: 'memory-only' } }));
    });
  });

  describe('with Redis, failure mode memory', () => {
    let server: RedisServer;
    let demo: RunningApp;
    beforeAll(async () => {
      server = await RedisServer.start();
      demo = await startDemo(
        { HTTP_ADAPTER: adapter, REDIS_URL: server.url },
        { keyPrefix: uniquePrefix(`health-${adapter}`) },
      );
    });
    afterAll(async () => {
      await demo?.close();
      await server?.stop();
    });

    it('is up on Redis', async () => {
      expect((await request(demo.url).get('/health').expect(200)).body).toEqual(
        ok({ rate_limit: { status: 'up', store: 'redis', breaker: 'closed', degraded: false } }),
      );
      const redis = await request(demo.url).get('/health/redis').expect(200);
      expect(redis.body).toEqual(ok({ redis: { status: 'up', mode: 'standalone' } }));
    });

    it('stays 200 but degraded while Redis is dead; /health/redis is 503', async () => {
      await server.kill();
      // Without traffic the breaker is still closed, yet the lost connection already counts.
      const degraded = async () =>
        (await request(demo.url).get('/health')).body.details.rate_limit.degraded;
      await waitFor(async () => (await degraded()) === true, 5_000);
      for (let i = 0; i < 6; i++) await request(demo.url).get('/api/public').expect(200);
      const health = await request(demo.url).get('/health').expect(200);
      expect(health.body).toEqual({
        status: 'degraded',
        info: {
          rate_limit: { status: 'degraded', store: 'memory', breaker: 'open', degraded: true },
        },
        error: {},
        details: {
          rate_limit: { status: 'degraded', store: 'memory', breaker: 'open', degraded: true },
        },
      });
      const redis = await request(demo.url).get('/health/redis').expect(503);
      expect(redis.body).toEqual(
        failing({ redis: { status: 'down', mode: 'standalone', message: expect.any(String) } }),
      );
    });

    it('is healthy again within 15 s of Redis returning, without any request needed', async () => {
      await server.launch();
      const get = (path: string) => request(demo.url).get(path);
      const redisBackMs = await waitFor(
        async () => (await get('/health/redis')).status === 200,
        15_000,
        100,
      );
      const limiterBackMs = await waitFor(
        async () => (await get('/health')).body.status === 'ok',
        15_000,
        100,
      );
      expect(redisBackMs).toBeLessThan(15_000);
      expect(limiterBackMs).toBeLessThan(15_000);
      expect((await request(demo.url).get('/health').expect(200)).body).toEqual(
        ok({ rate_limit: { status: 'up', store: 'redis', breaker: 'closed', degraded: false } }),
      );
    }, 35_000);
  });

  describe('with Redis, failure mode closed', () => {
    let server: RedisServer;
    let demo: RunningApp;
    beforeAll(async () => {
      server = await RedisServer.start();
      demo = await startDemo(
        { HTTP_ADAPTER: adapter, REDIS_URL: server.url, RATE_LIMIT_FAILURE_MODE: 'closed' },
        { keyPrefix: uniquePrefix(`health-closed-${adapter}`) },
      );
    });
    afterAll(async () => {
      await demo?.close();
      await server?.stop();
    });

    it('answers /health 503 while Redis is dead', async () => {
      await request(demo.url).get('/health').expect(200);
      await server.kill();
      await waitFor(async () => (await request(demo.url).get('/health')).status === 503, 5_000);
      for (let i = 0; i < 6; i++) await request(demo.url).get('/api/public').expect(503);
      const health = await request(demo.url).get('/health').expect(503);
      expect(health.body).toEqual(
        failing({
          rate_limit: { status: 'down', store: 'memory', breaker: 'open', degraded: true },
        }),
      );
    });
  });
});
