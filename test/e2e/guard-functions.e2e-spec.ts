import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import request from 'supertest';
import { RateLimit, RateLimitGuard, RateLimitModule, type RequestFn } from '@app/rate-limit';
import { ADAPTERS, uniquePrefix } from '../support/demo-app.js';

type Headers = { headers: Record<string, string | undefined> };
const header =
  (name: string): RequestFn<string | undefined> =>
  (ctx) =>
    ctx.switchToHttp().getRequest<Headers>().headers[name];

/** The order the functions of `/fn/mixed` ran in, per request. */
const calls: string[] = [];

/** Each function answers later than it is called, on a later tick. */
const later = <T>(name: string, value: T): Promise<T> => {
  calls.push(name);
  return new Promise((resolve) => setImmediate(() => resolve(value)));
};

@Controller('fn')
class FunctionsController {
  // Key, tier and cost functions answering promises.
  @RateLimit({
    name: 'async-fns',
    algorithm: 'fixed-window',
    limit: 10,
    window: '1h',
    key: (ctx, client) => later('key', header('x-tenant')(ctx, client) as string),
    tiers: { gold: 20 },
    tier: (ctx, client) => later('tier', header('x-tier')(ctx, client) as string | undefined),
    cost: (ctx, client) => later('cost', Number(header('x-cost')(ctx, client) ?? 1)),
  })
  @Get('async')
  async() {
    return 'ok';
  }

  // A synchronous rule, then one whose functions answer promises, then a synchronous one again.
  @RateLimit(
    { name: 'mixed-a', algorithm: 'fixed-window', limit: 5, window: '1h', key: 'ip' },
    {
      name: 'mixed-b',
      algorithm: 'token-bucket',
      limit: 4,
      window: '1h',
      key: () => later('key-b', 'shared'),
      cost: () => later('cost-b', 2),
    },
    {
      name: 'mixed-c',
      algorithm: 'fixed-window',
      limit: 9,
      window: '1h',
      key: () => {
        calls.push('key-c');
        return 'shared';
      },
    },
  )
  @Get('mixed')
  mixed() {
    return 'ok';
  }

  @RateLimit({
    name: 'bad-async',
    algorithm: 'fixed-window',
    limit: 10,
    window: '1m',
    key: 'ip',
    cost: () => later('bad-cost', 1.5),
  })
  @Get('bad')
  bad() {
    return 'ok';
  }

  @RateLimit({
    name: 'empty-key',
    algorithm: 'fixed-window',
    limit: 10,
    window: '1m',
    key: () => later('empty-key', ''),
  })
  @Get('empty')
  empty() {
    return 'ok';
  }
}

/**
 * Key, tier and cost functions may answer promises, synchronous ones need not: either way the
 * guard calls them in the same order (key, tier, cost; rule by rule) and answers alike.
 */
describe.each(ADAPTERS)('rule functions answering promises on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    @Module({
      imports: [RateLimitModule.forRoot({ keyPrefix: uniquePrefix(`fn-${adapter}`) })],
      controllers: [FunctionsController],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    })
    class TestModule {}
    const httpAdapter = adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
    app = await NestFactory.create(TestModule, httpAdapter, { logger: false, abortOnError: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer() as { address(): { port: number } }).address().port}`;
  });
  afterAll(async () => {
    await app?.close();
  });
  beforeEach(() => {
    calls.length = 0;
  });

  it('waits for each promise: key, tier and cost as resolved', async () => {
    const gold = await request(url)
      .get('/fn/async')
      .set('X-Tenant', 'acme')
      .set('X-Tier', 'gold')
      .set('X-Cost', '15')
      .expect(200);
    expect(gold.headers['x-ratelimit-limit']).toBe('20');
    expect(gold.headers['x-ratelimit-remaining']).toBe('5');
    expect(calls).toEqual(['key', 'tier', 'cost']);
    // Another tenant has its own budget, at the rule's limit without a tier.
    const other = await request(url).get('/fn/async').set('X-Tenant', 'globex').set('X-Cost', '3');
    expect(other.status).toBe(200);
    expect(other.headers['x-ratelimit-limit']).toBe('10');
    expect(other.headers['x-ratelimit-remaining']).toBe('7');
    const denied = await request(url).get('/fn/async').set('X-Tenant', 'globex').set('X-Cost', '8');
    expect(denied.status).toBe(429);
    expect(denied.body).toMatchObject({ statusCode: 429, rule: 'async-fns' });
  });

  it('calls the functions of several rules in rule order and decides the rules together', async () => {
    const first = await request(url).get('/fn/mixed').expect(200);
    expect(calls).toEqual(['key-b', 'cost-b', 'key-c']);
    expect(first.headers['ratelimit']).toMatch(
      /^"mixed-a";r=4;t=\d+, "mixed-b";r=2;t=\d+, "mixed-c";r=8;t=\d+$/,
    );
    await request(url).get('/fn/mixed').expect(200);
    // mixed-b has no 2 units left: nothing is charged to the other rules either.
    const denied = await request(url).get('/fn/mixed').expect(429);
    expect(denied.body).toMatchObject({ rule: 'mixed-b' });
    expect(denied.headers['ratelimit']).toMatch(
      /^"mixed-a";r=3;t=\d+, "mixed-b";r=0;t=\d+, "mixed-c";r=7;t=\d+$/,
    );
  });

  it('denies a request whose cost promise answers a fraction, charging nothing', async () => {
    const res = await request(url).get('/fn/bad').expect(429);
    expect(res.headers['retry-after']).toBe('60');
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    expect(res.body).toMatchObject({ statusCode: 429, rule: 'bad-async' });
  });

  it('answers 500 when a key promise answers an empty key, as a synchronous one would', async () => {
    await request(url).get('/fn/empty').expect(500);
    expect(calls).toEqual(['empty-key']);
  });
});
