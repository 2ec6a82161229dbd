import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimitGuard, RateLimitModule, type RateLimitModuleOptions } from '@app/rate-limit';
import { RateLimitAdminModule } from '@app/rate-limit/admin';
import { ApiModule } from './api/api.module.js';
import { DEMO_CONFIG, type DemoConfig } from './config/demo-config.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';

@Module({})
class DemoConfigModule {
  static forRoot(config: DemoConfig): DynamicModule {
    return {
      module: DemoConfigModule,
      global: true,
      providers: [{ provide: DEMO_CONFIG, useValue: config }],
      exports: [DEMO_CONFIG],
    };
  }
}

/** The Redis connection the environment names: a cluster, else sentinels, else one server. */
function redisConnection(config: DemoConfig): RateLimitModuleOptions['redis'] {
  if (config.redisClusterNodes) return { cluster: { nodes: [...config.redisClusterNodes] } };
  if (config.redisSentinels) {
    return { options: { sentinels: [...config.redisSentinels], name: config.redisSentinelName } };
  }
  return config.redisUrl ? { url: config.redisUrl } : undefined;
}

/** Library options from the demo's environment. */
export function rateLimitOptions(config: DemoConfig): RateLimitModuleOptions {
  return {
    redis: redisConnection(config),
    failureMode: config.failureMode,
    trustProxy: config.trustProxy,
  };
}

/** The demo app; `extra` lets tests override library options (key prefix, clock...). */
@Module({})
export class AppModule {
  static forRoot(config: DemoConfig, extra: Partial<RateLimitModuleOptions> = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DemoConfigModule.forRoot(config),
        RateLimitModule.forRootAsync({
          isGlobal: true,
          inject: [DEMO_CONFIG],
          useFactory: (cfg: DemoConfig) => ({ ...rateLimitOptions(cfg), ...extra }),
        }),
        ApiModule,
        HealthModule,
        MetricsModule,
        // Mounted even without ADMIN_TOKEN: the module's own guard then answers 404 on /admin/*,
        // which is what a library user who forgets the token gets too.
        RateLimitAdminModule.forRoot({ token: config.adminToken }),
      ],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    };
  }
}
