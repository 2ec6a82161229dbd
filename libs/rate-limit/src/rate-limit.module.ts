import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { RateLimitGuard } from './guard/rate-limit.guard.js';
import { REDIS_CLIENT, RESOLVED_OPTIONS } from './rate-limit.constants.js';
import { operationsProviders } from './operations.providers.js';
import { ConfigurableModuleClass } from './rate-limit.module-definition.js';
import { RedisClientHolder, rateLimitProviders } from './rate-limit.providers.js';
import { RuleRegistry } from './rules/rule-registry.service.js';
import { RuleExplorer } from './rules/rule.explorer.js';
import { MemoryStore } from './stores/memory.store.js';
import { RateLimitStatusService } from './stores/rate-limit-status.service.js';
import { RateLimitStore } from './stores/rate-limit.store.js';

/**
 * Distributed rate limiting: `forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`.
 * The guard is exported, not registered: add it with `APP_GUARD` or `@UseGuards(RateLimitGuard)`.
 * @publicApi
 * @example
 * ```ts
 * @Module({
 *   imports: [RateLimitModule.forRoot({ redis: { url: process.env.REDIS_URL } })],
 *   providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers: [...rateLimitProviders, ...operationsProviders, RuleRegistry, RuleExplorer, RateLimitGuard, RateLimitStatusService],
  exports: [...operationsProviders, RateLimitGuard, RateLimitStore, MemoryStore, RuleRegistry, RateLimitStatusService, RESOLVED_OPTIONS, REDIS_CLIENT],
})
export class RateLimitModule extends ConfigurableModuleClass implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClientHolder) {
    super();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.close();
  }
}
