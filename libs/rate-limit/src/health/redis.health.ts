import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Cluster } from 'ioredis';
import { DEFAULTS, REDIS_CLIENT } from '../rate-limit.constants.js';
import { REDIS_PING_TIMEOUT } from '../rate-limit.messages.js';
import type { RedisClientHolder } from '../rate-limit.providers.js';

/** How the limiter reaches Redis, as the `redis` indicator reports it. @publicApi */
export type RedisMode = 'standalone' | 'sentinel' | 'cluster' | 'memory-only';

/**
 * Terminus indicator of the Redis connection: PING with a timeout, straight on the client (not
 * through the breaker, so it reports Redis itself). `up` with `mode: 'memory-only'` when no Redis
 * is configured. Never throws: a failure is `down` with a `message`.
 * @publicApi
 * @example
 * ```ts
 * @Get('health/redis')
 * @HealthCheck()
 * redis() {
 *   return this.health.check([() => this.redis.isHealthy()]);
 * }
 * ```
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_CLIENT) private readonly holder: RedisClientHolder,
  ) {}

  /** @param timeoutMs how long PING may take. @default 1000 (ms) */
  async isHealthy<const Key extends string = 'redis'>(
    key: Key = 'redis' as Key,
    timeoutMs: number = DEFAULTS.redisPingTimeoutMs,
  ) {
    const check = this.indicators.check(key);
    const client = this.holder.client;
    if (!client) return check.up({ mode: 'memory-only' as RedisMode });
    const mode: RedisMode =
      client instanceof Cluster
        ? 'cluster'
        : client.options.sentinels?.length
          ? 'sentinel'
          : 'standalone';
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(REDIS_PING_TIMEOUT(timeoutMs))), timeoutMs);
        }),
      ]);
      return check.up({ mode });
    } catch (error) {
      return check.down({ mode, message: error instanceof Error ? error.message : String(error) });
    } finally {
      clearTimeout(timer);
    }
  }
}
