import {
  Controller,
  Get,
  Module,
  RequestMethod,
  UnauthorizedException,
  type DynamicModule,
  type CanActivate,
  type ExecutionContext,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { FLOOR_BUSY_US } from '../config.js';

/**
 * The apps the demo is compared with: no limiter, `@nestjs/throttler` on either storage, and the
 * floor of any limiter that is a guard (`floor`).
 */
export type PeerAppName = 'bare' | 'throttler-memory' | 'throttler-redis' | 'floor';

/** Per-route limits, changed at run time by the benchmark (a message to this process). */
export const limits = { premium: 1_000_000_000, public: 1_000_000_000 };
const WINDOW_MS = 60_000;

interface KeyedRequest {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
}

/** The demo's API keys, read from the same variable, so both apps accept the same keys. */
const apiKeys = new Set(
  (process.env.DEMO_API_KEYS ?? 'demo-free:free,demo-pro:pro,demo-enterprise:enterprise')
    .split(',')
    .map((pair) => pair.slice(0, pair.lastIndexOf(':'))),
);

/** As the demo does: a missing or unknown key is a 401 before any guard runs. */
function premiumAuth(req: KeyedRequest, _res: unknown, next: () => void): void {
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || !apiKeys.has(key))
    throw new UnauthorizedException('Unknown API key');
  next();
}

/** The demo's two routes and bodies, without its limiter. */
@Controller('api')
class ApiController {
  @Get('public')
  public() {
    return { ok: true, route: 'public' };
  }

  @Get('premium')
  premium() {
    return { ok: true, route: 'premium' };
  }
}

@Module({ controllers: [ApiController] })
class PeerAppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(premiumAuth).forRoutes({ path: 'api/premium', method: RequestMethod.GET });
  }
}

/** Keyed as the demo keys its rules: premium by API key, public by client IP. */
const tracker = (req: Record<string, unknown>) => {
  const key = (req as unknown as KeyedRequest).headers['x-api-key'];
  return typeof key === 'string' ? key : String(req.ip ?? '');
};
const limitOf = (ctx: ExecutionContext) =>
  ctx.getHandler().name === 'premium' ? limits.premium : limits.public;

/** The headers ours sends on an admitted request at limit 1e9. */
const FLOOR_HEADERS = {
  'x-ratelimit-limit': '1000000000',
  'x-ratelimit-remaining': '999999999',
  'x-ratelimit-reset': '1796590011',
  'ratelimit-policy': '"premium";q=1000000000;w=60',
  ratelimit: '"premium";r=999999999;t=1',
};

/**
 * What any limiter written as a guard costs at least: it spends `FLOOR_BUSY_US` of CPU and sets
 * the same headers in one call, and decides nothing. Ours against it is the price of deciding.
 */
class FloorGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const end = process.hrtime.bigint() + BigInt(FLOOR_BUSY_US * 1000);
    while (process.hrtime.bigint() < end);
    const response = ctx.switchToHttp().getResponse<{
      headers?: (h: object) => void;
      set: (h: object) => void;
    }>();
    if (typeof response.headers === 'function') response.headers(FLOOR_HEADERS);
    else response.set(FLOOR_HEADERS);
    return true;
  }
}

export function peerApp(name: PeerAppName, redisUrl: string): DynamicModule {
  if (name === 'bare') return { module: PeerAppModule };
  if (name === 'floor')
    return { module: PeerAppModule, providers: [{ provide: APP_GUARD, useClass: FloorGuard }] };
  const throttlers = [{ ttl: WINDOW_MS, limit: limitOf }];
  return {
    module: PeerAppModule,
    imports: [
      ThrottlerModule.forRoot({
        throttlers,
        getTracker: tracker,
        // Given a URL the storage creates and owns its client.
        storage:
          name === 'throttler-redis' ? new ThrottlerStorageRedisService(redisUrl) : undefined,
      }),
    ],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  };
}
