import {
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  Module,
  type Type,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import {
  type ClientInfo,
  RateLimit,
  RateLimitGuard,
  RateLimiter,
  RateLimitModule,
  type RateLimitModuleOptions,
  type RateLimitRule,
} from '@app/rate-limit';
import { ADAPTERS, type Adapter, uniquePrefix } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

type Headers = Record<string, string | undefined>;
const header = (ctx: { switchToHttp(): { getRequest<T>(): T } }, name: string) =>
  ctx.switchToHttp().getRequest<{ headers: Headers }>().headers[name];

@Controller('core')
class CoreController {
  @RateLimit({
    name: 'exports',
    algorithm: 'sliding-window-log',
    limit: 5,
    window: '1m',
    key: 'api-key',
  })
  @Get('export')
  export() {
    return 'ok';
  }

  @RateLimit({
    name: 'priced',
    algorithm: 'sliding-window-log',
    limit: 10,
    window: '1m',
    key: 'ip',
    cost: (ctx) => Number(header(ctx, 'x-cost')),
  })
  @Get('priced')
  priced() {
    return 'ok';
  }

  // Two unnamed rules on one handler: their default names must be valid at boot.
  @RateLimit(
    { algorithm: 'fixed-window', limit: 3, window: '1m', key: 'ip' },
    { algorithm: 'token-bucket', limit: 2, window: '1m', key: 'ip' },
  )
  @Get('unnamed')
  unnamed() {
    return 'ok';
  }
}

/** A subclass with a constructor of its own, overriding a protected hook: callers keyed by `X-Tenant`. */
@Injectable()
class TenantGuard extends RateLimitGuard {
  constructor() {
    super();
  }

  protected override async getTracker(
    _rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
  ): Promise<string> {
    const tenant = header(ctx, 'x-tenant');
    return tenant ? `key=${tenant}` : `ip=${client.ip}`;
  }
}

async function boot(
  adapter: Adapter,
  options: RateLimitModuleOptions,
  guard: Type<RateLimitGuard> = RateLimitGuard,
): Promise<INestApplication> {
  @Module({
    imports: [RateLimitModule.forRoot(options)],
    controllers: [CoreController],
    providers: [{ provide: APP_GUARD, useClass: guard }],
  })
  class TestModule {}
  const app = await NestFactory.create(
    TestModule,
    adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
    {
      logger: false,
      abortOnError: false,
    },
  );
  await app.listen(0, '127.0.0.1');
  return app;
}

describe.each(ADAPTERS)('the core and the guard on %s, over Redis', (adapter) => {
  let server: RedisServer;
  let redis: Redis;
  let app: INestApplication;
  let url: string;
  let limiter: RateLimiter;
  const prefix = uniquePrefix(`core-${adapter}`);
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { headers });

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    app = await boot(adapter, { redis: { url: server.url }, keyPrefix: prefix });
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    limiter = app.get(RateLimiter);
  });
  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await server?.stop();
  });

  it('a worker and a route spend one budget: the same state key in Redis', async () => {
    const key = `tenant-${adapter}`;
    expect(
      (await get('/core/export', { 'X-API-Key': key })).headers.get('x-ratelimit-remaining'),
    ).toBe('4');
    expect(await limiter.consume('exports', key, { cost: 2 })).toMatchObject({
      allowed: true,
      remaining: 2,
    });
    expect(
      (await get('/core/export', { 'X-API-Key': key })).headers.get('x-ratelimit-remaining'),
    ).toBe('1');
    expect(await limiter.peek('exports', key)).toMatchObject({ remaining: 1 });
    expect(await redis.keys(`${prefix}:exports:*`)).toEqual([`${prefix}:exports:swl:{key=${key}}`]);
    expect(await limiter.consume('exports', key)).toMatchObject({ allowed: true, remaining: 0 });
    const denied = await get('/core/export', { 'X-API-Key': key });
    expect(denied.status).toBe(429);
    const worker = await limiter.consume('exports', key);
    expect(worker).toMatchObject({ allowed: false });
    // The guard and the core compute Retry-After in one place: they agree.
    expect(denied.headers.get('retry-after')).toBe(String(worker.retryAfter));
    await limiter.reset('exports', key);
    expect((await get('/core/export', { 'X-API-Key': key })).status).toBe(200);
  });

  it.each(['-1', '1.5', 'NaN'])(
    'denies a request whose cost function answers %s and touches no state',
    async (cost) => {
      await limiter.reset('priced', '127.0.0.1');
      const before = await redis.keys(`${prefix}:priced:*`);
      const res = await get('/core/priced', { 'X-Cost': cost });
      expect(res.status).toBe(429);
      expect(await res.json()).toMatchObject({
        rule: 'priced',
        message: 'Rate limit rule "priced" cannot price this request; it is denied',
      });
      expect(await redis.keys(`${prefix}:priced:*`)).toEqual(before);
      // A valid cost afterwards sees the whole budget: nothing was refunded or corrupted.
      const ok = await get('/core/priced', { 'X-Cost': '3' });
      expect(ok.headers.get('x-ratelimit-remaining')).toBe('7');
    },
  );

  it('boots with two unnamed rules on one handler, named Controller.handler and Controller.handler:2', async () => {
    const res = await get('/core/unnamed');
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toBe(
      '"CoreController.unnamed";q=3;w=60, "CoreController.unnamed:2";q=2;w=60',
    );
  });
});

describe.each(ADAPTERS)('a guard subclass on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    app = await boot(adapter, { keyPrefix: uniquePrefix(`core-sub-${adapter}`) }, TenantGuard);
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(() => app?.close());

  it('keeps its own constructor and changes who a caller is through a protected hook', async () => {
    for (let i = 0; i < 5; i++)
      await fetch(`${url}/core/export`, { headers: { 'X-Tenant': 'acme' } });
    expect((await fetch(`${url}/core/export`, { headers: { 'X-Tenant': 'acme' } })).status).toBe(
      429,
    );
    expect((await fetch(`${url}/core/export`, { headers: { 'X-Tenant': 'globex' } })).status).toBe(
      200,
    );
    expect(await app.get(RateLimiter).peek('exports', 'acme')).toMatchObject({ remaining: 0 });
  });
});
