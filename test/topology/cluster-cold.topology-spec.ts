import { type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Cluster } from 'ioredis';
import {
  RateLimitGuard,
  RateLimitModule,
  RateLimitStatusService,
  RedisStore,
} from '@app/rate-limit';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { burst, fallbackDecisions, healthOf, tally } from '../support/topology.js';
import {
  EXACT_ALGORITHMS,
  EXACT_LIMIT,
  ExactAlgorithmController,
} from '../support/exact-algorithms.js';

/**
 * A cold start is no fault: the very first burst on a fresh Redis Cluster, spread over three
 * instances that have just booted, is decided on Redis, exactly, with no fallback decision, and
 * no node answers a redirection or NOSCRIPT.
 *
 * The breaker gets 1 s instead of 100 ms: two cores shared by several test runs can stall an
 * event loop past 100 ms, a fallback no topology causes. The defect this guards against shows at
 * any budget (with 1 s, a cold cluster still answered MOVED and admitted 11 of 10).
 */
const INSTANCES = 3;
const BREAKER = { timeoutMs: 1_000 };

describe(`a fresh 3-master cluster, ${INSTANCES} demo instances (Express and Fastify), first burst`, () => {
  let cluster: RedisCluster;
  let apps: RunningApp[] = [];
  const prefix = uniquePrefix('cold-demo');

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    apps = await Promise.all(
      Array.from({ length: INSTANCES }, (_, i) =>
        startDemo(
          { REDIS_CLUSTER_NODES: cluster.nodesEnv, HTTP_ADAPTER: i % 2 ? 'fastify' : 'express' },
          { keyPrefix: prefix, breaker: BREAKER },
        ),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await cluster?.stop();
  });

  it('admits exactly the limit of the sliding log, the fixed window and the token bucket, all on Redis', async () => {
    const urls = apps.map((a) => a.url);
    const writes = {
      method: 'POST',
      headers: { 'X-API-Key': 'cold', 'Content-Type': 'application/json' },
      body: '{}',
    };
    const [publicStatuses, dataStatuses] = await Promise.all([
      burst(urls, '/api/public', 60),
      burst(urls, '/api/data', 60, writes),
    ]);

    expect(tally(publicStatuses)).toEqual({ 200: 10, 429: 50 });
    // The 5-token bucket binds; the fixed window (20 a minute) is charged by exactly those 5.
    expect(tally(dataStatuses)).toEqual({ 201: 5, 429: 55 });
    const client = (apps[0].app.get(RateLimitStatusService).resilientStore!.redis as RedisStore)
      .client as Cluster;
    const perNode = await Promise.all(
      client.nodes('master').map((node) => node.keys(`${prefix}:writes:*`)),
    );
    expect(await client.hget(perNode.flat()[0], 'c')).toBe('5');

    // No node redirected or refused a decision: no NOSCRIPT, MOVED, ASK, TRYAGAIN or CLUSTERDOWN.
    // (ERR is ioredis's CLIENT SETINFO, which Redis 7.0 does not know.)
    const errors = await Promise.all(client.nodes('master').map((node) => node.info('errorstats')));
    expect(
      errors
        .flatMap((info) => info.match(/errorstat_\w+/g) ?? [])
        .filter((e) => e !== 'errorstat_ERR'),
    ).toEqual([]);
    for (const app of apps) {
      expect(await fallbackDecisions(app.url)).toBe(0);
      expect(await healthOf(app.url)).toEqual({
        status: 'up',
        store: 'redis',
        breaker: 'closed',
        degraded: false,
      });
    }
  });
});

describe(`every exact algorithm on a fresh 3-master cluster, ${INSTANCES} Fastify instances, first burst`, () => {
  const ALGORITHMS = EXACT_ALGORITHMS;
  const LIMIT = EXACT_LIMIT;

  let cluster: RedisCluster;
  let apps: INestApplication[] = [];
  let urls: string[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    @Module({
      imports: [
        RateLimitModule.forRoot({
          redis: { cluster: { nodes: cluster.startupNodes } },
          keyPrefix: uniquePrefix('cold-algo'),
          breaker: BREAKER,
        }),
      ],
      controllers: [ExactAlgorithmController],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    })
    class AlgoModule {}
    apps = await Promise.all(
      Array.from({ length: INSTANCES }, async () => {
        const app = await NestFactory.create(AlgoModule, new FastifyAdapter(), { logger: false });
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
    await cluster?.stop();
  });

  it('admits exactly the limit of each, every decision on Redis', async () => {
    const results = await Promise.all(
      ALGORITHMS.map((algorithm) => burst(urls, `/algo/${algorithm}`, 60)),
    );
    expect(Object.fromEntries(ALGORITHMS.map((a, i) => [a, tally(results[i])]))).toEqual(
      Object.fromEntries(ALGORITHMS.map((a) => [a, { 200: LIMIT, 429: 60 - LIMIT }])),
    );
    for (const app of apps) {
      expect(app.get(RateLimitStatusService).snapshot().stats).toEqual(
        expect.objectContaining({
          fallbackDecisions: 0,
          storeErrors: 0,
          redisDecisions: (60 * ALGORITHMS.length) / INSTANCES,
        }),
      );
    }
  });
});
