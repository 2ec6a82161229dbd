import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  type INestApplication,
  Injectable,
  Module,
  UseGuards,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import {
  RateLimit,
  RateLimitConfigError,
  RateLimitGuard,
  RateLimitModule,
  type RateLimitModuleOptions,
} from '@app/rate-limit';
import { ADAPTERS, type Adapter, uniquePrefix } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

/** Authenticates `Authorization: Bearer <name>` as `req.user = { id: name }`; anonymous otherwise. */
@Injectable()
class BearerAuthGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const request = ctx.switchToHttp().getRequest<{
      headers: Record<string, string | undefined>;
      user?: { id: string };
      account?: { handle: string };
    }>();
    const name = /^Bearer (\w+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (name) {
      request.user = { id: name };
      request.account = { handle: `@${name}` };
    }
    return true;
  }
}

const RULE = {
  name: 'per-user',
  algorithm: 'fixed-window',
  limit: 2,
  window: '1m',
  key: 'user',
} as const;

@Controller()
class ProfileController {
  @RateLimit(RULE)
  @Get('global-guards')
  viaAppGuards() {
    return 'ok';
  }

  @RateLimit({ ...RULE, name: 'per-user-use-guards' })
  @UseGuards(BearerAuthGuard, RateLimitGuard)
  @Get('use-guards')
  viaUseGuards() {
    return 'ok';
  }
}

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

async function boot(
  adapter: Adapter,
  guards: 'auth-first' | 'limiter-first' | 'none',
  options: RateLimitModuleOptions = {},
): Promise<{ app: INestApplication; get: (path: string, user?: string) => Promise<number> }> {
  const auth = { provide: APP_GUARD, useClass: BearerAuthGuard };
  const limiter = { provide: APP_GUARD, useClass: RateLimitGuard };
  const order = { 'auth-first': [auth, limiter], 'limiter-first': [limiter, auth], none: [] };
  @Module({
    imports: [
      RateLimitModule.forRoot({
        redis: { url: server.url },
        keyPrefix: uniquePrefix(`user-${adapter}-${guards}`),
        ...options,
      }),
    ],
    controllers: [ProfileController],
    // APP_GUARD providers run in the order they are listed.
    providers: order[guards],
  })
  class UserApp {}
  const app = await NestFactory.create(
    UserApp,
    adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const get = async (path: string, user?: string) =>
    (await fetch(`${url}${path}`, { headers: user ? { authorization: `Bearer ${user}` } : {} }))
      .status;
  return { app, get };
}

/** `n` requests in a row, their statuses. */
async function statuses(get: () => Promise<number>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await get());
  return out;
}

describe.each(ADAPTERS)('per-user limits after authentication on %s', (adapter) => {
  const apps: INestApplication[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it.each([
    ['APP_GUARD providers, auth listed first', 'auth-first', '/global-guards'],
    ['@UseGuards(BearerAuthGuard, RateLimitGuard)', 'none', '/use-guards'],
  ] as const)(
    '%s: two users behind one IP have a budget each; anonymous requests share the IP budget',
    async (_label, guards, path) => {
      const { app, get } = await boot(adapter, guards);
      apps.push(app);
      expect(await statuses(() => get(path, 'alice'), 3)).toEqual([200, 200, 429]);
      expect(await statuses(() => get(path, 'bob'), 3)).toEqual([200, 200, 429]);
      expect(await statuses(() => get(path), 3)).toEqual([200, 200, 429]);
      const rule = path === '/use-guards' ? 'per-user-use-guards' : 'per-user';
      const keys = (await redis.keys(`t-user-${adapter}-${guards}-*`)).sort();
      expect(keys.map((k) => k.slice(k.indexOf(rule) + rule.length + 1))).toEqual(
        expect.arrayContaining([
          expect.stringContaining('user=alice'),
          expect.stringContaining('user=bob'),
          expect.stringContaining('ip=127.0.0.1'),
        ]),
      );
      expect(keys).toHaveLength(3);
    },
  );

  it('with the limiter listed before auth there is no user yet: everyone behind the IP shares one budget', async () => {
    const { app, get } = await boot(adapter, 'limiter-first');
    apps.push(app);
    expect(await statuses(() => get('/global-guards', 'alice'), 2)).toEqual([200, 200]);
    expect(await get('/global-guards', 'bob')).toBe(429);
  });

  it('reads the principal where `user.id` says, and `fallback: deny` refuses anonymous callers with 401', async () => {
    const { app, get } = await boot(adapter, 'auth-first', {
      user: {
        id: (request: { account?: { handle: string } }) => request.account?.handle,
        fallback: 'deny',
      },
    });
    apps.push(app);
    expect(await statuses(() => get('/global-guards', 'carol'), 3)).toEqual([200, 200, 429]);
    expect(await get('/global-guards')).toBe(401);
    const keys = await redis.keys(`t-user-${adapter}-auth-first-*per-user*`);
    expect(keys.some((k) => k.includes('user=@carol'))).toBe(true);
  });
});

describe('the boot check', () => {
  it('refuses @RateLimit on a provider method that no guard runs for', async () => {
    @Injectable()
    class ReportService {
      @RateLimit(RULE)
      build() {
        return 'report';
      }
    }
    @Module({
      imports: [RateLimitModule.forRoot({ keyPrefix: uniquePrefix('boot') })],
      providers: [ReportService],
    })
    class BootApp {}
    const app = await NestFactory.create(BootApp, new ExpressAdapter(), {
      logger: false,
      abortOnError: false,
    });
    const error = await app.init().then(
      () => undefined,
      (e: unknown) => e,
    );
    await app.close();
    expect(error).toBeInstanceOf(RateLimitConfigError);
    expect((error as RateLimitConfigError).message).toMatch(
      /ReportService\.build has @RateLimit but is not a handler the rate-limit guard runs for/,
    );
  });
});
