import {
  Controller,
  Get,
  type INestApplication,
  Module,
  Post,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import request from 'supertest';
import {
  RateLimit,
  RateLimitConfigError,
  RateLimitGuard,
  RateLimitModule,
  type RateLimitModuleOptions,
  SkipRateLimit,
} from '@app/rate-limit';
import { ADAPTERS, type Adapter, uniquePrefix } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

/** Requests held inside SlowController until `gate.open()`. */
const gate = {
  inside: 0,
  opened: false,
  waiters: [] as Array<() => void>,
  open() {
    this.opened = true;
    for (const release of this.waiters.splice(0)) release();
  },
};

@RateLimit({ name: 'per-controller', algorithm: 'fixed-window', limit: 6, window: '1m', key: 'ip' })
@Controller('lib')
class LibController {
  @Get('class-only')
  classOnly() {
    return 'ok';
  }

  @RateLimit({ algorithm: 'gcra', limit: 2, window: '1m', key: ['ip', 'api-key'] })
  @Get('composite')
  composite() {
    return 'ok';
  }

  @SkipRateLimit()
  @Get('skipped')
  skipped() {
    return 'ok';
  }

  @RateLimit({
    name: 'per-controller',
    algorithm: 'fixed-window',
    limit: 100,
    window: '1m',
    key: 'ip',
  })
  @Get('replaced')
  replaced() {
    return 'ok';
  }
}

@SkipRateLimit()
@Controller('skipped-class')
class SkippedController {
  @RateLimit({ algorithm: 'fixed-window', limit: 1, window: '1m', key: 'ip' })
  @Get()
  handler() {
    return 'ok';
  }
}

@Controller('feat')
class FeatureController {
  @RateLimit({
    name: 'tenant',
    algorithm: 'token-bucket',
    limit: 10,
    window: '1h',
    key: (ctx) =>
      String(
        ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-tenant'],
      ),
    cost: (ctx) =>
      Number(
        ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-cost'] ?? 1,
      ),
  })
  @Get('tenant')
  tenant() {
    return 'ok';
  }
}

@Controller('slow')
class SlowController {
  @RateLimit({
    name: 'in-flight',
    algorithm: 'concurrency',
    limit: 2,
    window: '30s',
    key: 'global',
  })
  @Post()
  async slow() {
    gate.inside++;
    if (!gate.opened) await new Promise<void>((resolve) => gate.waiters.push(resolve));
    gate.inside--;
    return 'done';
  }
}

async function boot(
  adapter: Adapter,
  options: RateLimitModuleOptions,
  controllers: Type[],
): Promise<INestApplication> {
  @Module({
    imports: [RateLimitModule.forRoot(options)],
    controllers,
    providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
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

const urlOf = (app: INestApplication) =>
  `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;

describe.each(ADAPTERS)('library features on %s', (adapter) => {
  let server: RedisServer;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await boot(
      adapter,
      { redis: { url: server.url }, keyPrefix: uniquePrefix(`lib-${adapter}`) },
      [LibController, SkippedController, FeatureController, SlowController],
    );
    url = urlOf(app);
  });
  afterAll(async () => {
    gate.open();
    await app?.close();
    await server?.stop();
  });

  it('skips handlers and controllers marked @SkipRateLimit: no headers, never limited', async () => {
    for (let i = 0; i < 5; i++) {
      for (const path of ['/lib/skipped', '/skipped-class']) {
        const res = await request(url).get(path).expect(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    }
  });

  it('applies a class rule to every handler as one shared budget, plus handler rules', async () => {
    await request(url).get('/lib/class-only').expect(200);
    const both = await request(url).get('/lib/composite').set('X-API-Key', 'a').expect(200);
    expect(both.headers['ratelimit-policy']).toBe(
      '"per-controller";q=6;w=60, "LibController.composite";q=2;w=60',
    );
    expect(both.headers['ratelimit']).toMatch(
      /^"per-controller";r=4;t=\d+, "LibController.composite";r=1;t=\d+$/,
    );
  });

  it('builds composite keys from every listed source', async () => {
    await request(url).get('/lib/composite').set('X-API-Key', 'a').expect(200);
    const denied = await request(url).get('/lib/composite').set('X-API-Key', 'a').expect(429);
    expect(denied.body.rule).toBe('LibController.composite');
    // Same IP, another key: another budget. The shared class budget was not charged by the denial.
    const other = await request(url).get('/lib/composite').set('X-API-Key', 'b').expect(200);
    expect(other.headers['ratelimit']).toMatch(/^"per-controller";r=2;/);
  });

  it('lets a handler rule replace a class rule of the same name', async () => {
    const res = await request(url).get('/lib/replaced').expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"per-controller";q=100;w=60');
  });

  it('uses key and cost functions', async () => {
    const first = await request(url)
      .get('/feat/tenant')
      .set('X-Tenant', 'acme')
      .set('X-Cost', '7')
      .expect(200);
    expect(first.headers['x-ratelimit-remaining']).toBe('3');
    const denied = await request(url)
      .get('/feat/tenant')
      .set('X-Tenant', 'acme')
      .set('X-Cost', '4')
      .expect(429);
    expect(denied.headers['x-ratelimit-remaining']).toBe('3');
    await request(url)
      .get('/feat/tenant')
      .set('X-Tenant', 'globex')
      .set('X-Cost', '10')
      .expect(200);
  });

  it('answers a cost above the limit with 429 naming the reason, never admitting it', async () => {
    const res = await request(url)
      .get('/feat/tenant')
      .set('X-Tenant', 'initech')
      .set('X-Cost', '11')
      .expect(429);
    expect(res.body.message).toContain('exceeds the limit');
    expect(res.headers['retry-after']).toBe('3600');
  });

  it('holds a concurrency lease for the length of the request and releases it after', async () => {
    gate.opened = false;
    const inFlight = [request(url).post('/slow'), request(url).post('/slow')].map((r) =>
      r.then((x) => x.status),
    );
    for (let i = 0; i < 200 && gate.inside < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(gate.inside).toBe(2);
    const third = await request(url).post('/slow').expect(429);
    expect(third.body.rule).toBe('in-flight');
    expect(third.headers['retry-after']).toBe('1');
    gate.open();
    expect(await Promise.all(inFlight)).toEqual([201, 201]);
    // Leases are released when the response closes; the release may land just after the client sees it.
    let status = 429;
    for (let i = 0; i < 50 && status === 429; i++) {
      status = (await request(url).post('/slow')).status;
      if (status === 429) await new Promise((r) => setTimeout(r, 10));
    }
    expect(status).toBe(201);
  });
});

describe('module-wide default rules', () => {
  @Controller('d')
  class DefaultsController {
    @Get('a')
    a() {
      return 'a';
    }
    @Get('b')
    b() {
      return 'b';
    }
  }

  it('apply to every handler as one budget per caller', async () => {
    const app = await boot(
      'express',
      {
        rules: [
          {
            name: 'global-ip',
            algorithm: 'sliding-window-counter',
            limit: 3,
            window: '1m',
            key: 'ip',
          },
        ],
      },
      [DefaultsController],
    );
    try {
      const url = urlOf(app);
      await request(url).get('/d/a').expect(200);
      await request(url).get('/d/b').expect(200);
      await request(url).get('/d/a').expect(200);
      const denied = await request(url).get('/d/b').expect(429);
      expect(denied.body.rule).toBe('global-ip');
    } finally {
      await app.close();
    }
  });
});

describe('invalid rules stop the app at boot, naming the handler and the field', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['limit', { algorithm: 'fixed-window', limit: 0, window: '1m', key: 'ip' }, 'limit'],
    [
      'fractional limit',
      { algorithm: 'fixed-window', limit: 1.5, window: '1m', key: 'ip' },
      'limit',
    ],
    ['window', { algorithm: 'fixed-window', limit: 1, window: '10 minutes', key: 'ip' }, 'window'],
    [
      'window above 31 days',
      { algorithm: 'fixed-window', limit: 1, window: '32d', key: 'ip' },
      'window',
    ],
    ['algorithm', { algorithm: 'magic', limit: 1, window: '1m', key: 'ip' }, 'algorithm'],
    ['key', { algorithm: 'fixed-window', limit: 1, window: '1m' }, 'key'],
    [
      'cost above limit',
      { algorithm: 'fixed-window', limit: 1, window: '1m', key: 'ip', cost: 2 },
      'cost',
    ],
  ];

  it.each(cases)('%s', async (_, rule, field) => {
    @Controller('bad')
    class BadController {
      @RateLimit(rule as never)
      @Get()
      handler() {
        return 'never';
      }
    }
    const error = await boot('express', {}, [BadController]).then(
      (app) => app.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RateLimitConfigError);
    expect((error as RateLimitConfigError).message).toContain('BadController.handler');
    expect((error as RateLimitConfigError).message).toContain(`"${field}"`);
    expect((error as RateLimitConfigError).field).toBe(field);
  });

  it('two different rules sharing a name', async () => {
    @Controller('dup')
    class DupController {
      @RateLimit({ name: 'same', algorithm: 'fixed-window', limit: 1, window: '1m', key: 'ip' })
      @Get('x')
      x() {
        return 'x';
      }
      @RateLimit({ name: 'same', algorithm: 'fixed-window', limit: 2, window: '1m', key: 'ip' })
      @Get('y')
      y() {
        return 'y';
      }
    }
    await expect(boot('express', {}, [DupController])).rejects.toThrow(
      /"same".*DupController\.x.*DupController\.y/,
    );
  });
});

describe('guard per controller with @UseGuards', () => {
  @UseGuards(RateLimitGuard)
  @Controller('scoped')
  class ScopedController {
    @RateLimit({ algorithm: 'fixed-window', limit: 1, window: '1m', key: 'ip' })
    @Get()
    one() {
      return 'one';
    }
  }

  it('limits only that controller', async () => {
    @Module({ imports: [RateLimitModule.forRoot({})], controllers: [ScopedController] })
    class ScopedModule {}
    const app = await NestFactory.create(ScopedModule, new ExpressAdapter(), {
      logger: false,
      abortOnError: false,
    });
    await app.listen(0, '127.0.0.1');
    try {
      await request(urlOf(app)).get('/scoped').expect(200);
      await request(urlOf(app)).get('/scoped').expect(429);
    } finally {
      await app.close();
    }
  });
});
