import { type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Redis } from 'ioredis';
import { RateLimitGuard, RateLimitModule } from '@app/rate-limit';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';
import { keysWithTtl } from '../support/redis-client.js';
import { burst, tally } from '../support/topology.js';
import {
  EXACT_ALGORITHMS,
  EXACT_LIMIT,
  ExactAlgorithmController,
} from '../support/exact-algorithms.js';

const INSTANCES = 3;

describe(`${INSTANCES} demo instances sharing one Redis`, () => {
  let server: RedisServer;
  let redis: Redis;
  let apps: RunningApp[] = [];
  const prefix = uniquePrefix('multi-demo');

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    apps = await Promise.all(
      Array.from({ length: INSTANCES }, (_, i) =>
        startDemo(
          { REDIS_URL: server.url, HTTP_ADAPTER: i % 2 ? 'fastify' : 'express' },
          { keyPrefix: prefix },
        ),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    redis?.disconnect();
    await server?.stop();
  });

  it('admit exactly 10 concurrent public requests from one client', async () => {
    expect(
      tally(
        await burst(
          apps.map((a) => a.url),
          '/api/public',
          60,
        ),
      ),
    ).toEqual({ 200: 10, 429: 50 });
  });

  it('admit exactly 5 concurrent writes per key, charging both rules only for those', async () => {
    const statuses = await burst(
      apps.map((a) => a.url),
      '/api/data',
      40,
      {
        method: 'POST',
        headers: { 'X-API-Key': 'multi', 'Content-Type': 'application/json' },
        body: '{}',
      },
    );
    expect(tally(statuses)).toEqual({ 201: 5, 429: 35 });
    const [writesKey] = await redis.keys(`${prefix}:writes:*`);
    expect(await redis.hget(writesKey, 'c')).toBe('5');
  });

  it('leave every key with a TTL', async () => {
    for (const [key, ttl] of await keysWithTtl(redis, prefix))
      expect({ key, ttl: ttl > 0 }).toEqual({ key, ttl: true });
  });
});

describe(`every exact algorithm across ${INSTANCES} instances`, () => {
  const ALGORITHMS = EXACT_ALGORITHMS;
  const LIMIT = EXACT_LIMIT;

  let server: RedisServer;
  let apps: INestApplication[] = [];
  let urls: string[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    const prefix = uniquePrefix('multi-algo');
    @Module({
      imports: [RateLimitModule.forRoot({ redis: { url: server.url }, keyPrefix: prefix })],
      controllers: [ExactAlgorithmController],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    })
    class AlgoModule {}
    apps = await Promise.all(
      Array.from({ length: INSTANCES }, async () => {
        const app = await NestFactory.create(AlgoModule, new ExpressAdapter(), { logger: false });
        await app.listen(0, '127.0.0.1');
        return app;
      }),
    );
    urls = apps.map(
      (app) => `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`,
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await server?.stop();
  });

  it.each(ALGORITHMS)('%s admits exactly the limit', async (algorithm) => {
    expect(tally(await burst(urls, `/algo/${algorithm}`, 100))).toEqual({
      200: LIMIT,
      429: 100 - LIMIT,
    });
  });
});
