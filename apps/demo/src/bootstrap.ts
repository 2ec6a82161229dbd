import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { RateLimitModuleOptions } from '@app/rate-limit';
import { AppModule } from './app.module.js';
import type { DemoConfig } from './config/demo-config.js';

/** Creates the demo app on the configured HTTP adapter (not listening yet). */
export async function createDemoApp(
  config: DemoConfig,
  extra: Partial<RateLimitModuleOptions> = {},
  logger: false | undefined = undefined,
): Promise<INestApplication> {
  const adapter = config.httpAdapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(AppModule.forRoot(config, extra), adapter, {
    logger: logger === false ? false : undefined,
    abortOnError: false,
  });
  app.enableShutdownHooks();
  return app;
}
