import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { RateLimit, RateLimitGuard, RateLimitModule } from '@app/rate-limit';

export type HttpAdapterName = 'express' | 'fastify';
export type HttpAppName =
  | 'bare'
  | 'throttler-memory'
  | 'throttler-memory-ttl1s'
  | 'throttler-redis'
  | 'ours-memory'
  | 'ours-redis';

/** The largest limit the library accepts: nothing is ever denied, so only the overhead is measured. */
const LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;

@Controller()
class PingController {
  @Get('ping')
  ping() {
    return { ok: true };
  }
}

@Controller()
class LimitedPingController {
  // Fixed window per client IP: the closest match to what the throttler guard does.
  @RateLimit({ name: 'bench', algorithm: 'fixed-window', limit: LIMIT, window: WINDOW_MS, key: 'ip' })
  @Get('ping')
  ping() {
    return { ok: true };
  }
}

@Module({})
class BenchAppModule {}

/** One app per case; every case serves the same `GET /ping` body. */
export function benchApp(name: HttpAppName, redisUrl: string): DynamicModule {
  const throttlers = [{ ttl: WINDOW_MS, limit: LIMIT }];
  switch (name) {
    case 'bare':
      return { module: BenchAppModule, controllers: [PingController] };
    case 'throttler-memory':
    case 'throttler-memory-ttl1s':
      return {
        module: BenchAppModule,
        // Its in-memory storage keeps one expiry per hit within the ttl; a 1 s ttl shows that cost bounded.
        imports: [
          ThrottlerModule.forRoot(name === 'throttler-memory' ? throttlers : [{ ttl: 1_000, limit: LIMIT }]),
        ],
        controllers: [PingController],
        providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
      };
    case 'throttler-redis':
      return {
        module: BenchAppModule,
        // Given a URL the storage owns its client, as its README shows.
        imports: [
          ThrottlerModule.forRoot({ throttlers, storage: new ThrottlerStorageRedisService(redisUrl) }),
        ],
        controllers: [PingController],
        providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
      };
    case 'ours-memory':
    case 'ours-redis':
      return {
        module: BenchAppModule,
        imports: [RateLimitModule.forRoot(name === 'ours-redis' ? { redis: { url: redisUrl } } : {})],
        controllers: [LimitedPingController],
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      };
  }
}
