import { BadRequestException, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RateLimitModuleOptions } from '@app/rate-limit';
import { AppModule } from './app.module.js';
import type { DemoConfig } from './config/demo-config.js';
import { MAX_JSON_BYTES, MAX_JSON_DEPTH, nestsDeeperThan, TOO_DEEP } from './json-depth.js';

/**
 * Longest path parameter Fastify routes (its default, 100, answers 414 for longer ones): admin
 * paths carry API keys and identities, which may be up to 1024 characters, percent-encoded.
 */
export const FASTIFY_MAX_PARAM_LENGTH = 8 * 1024;

/** JSON bodies: at most `MAX_JSON_BYTES`, nested at most `MAX_JSON_DEPTH` levels; 400 otherwise. */
function limitJsonBodies(app: INestApplication, adapter: 'express' | 'fastify'): void {
  if (adapter === 'express') {
    (app as NestExpressApplication).useBodyParser('json', {
      limit: MAX_JSON_BYTES,
      verify: (_req: unknown, _res: unknown, body: Buffer) => {
        if (nestsDeeperThan(body, MAX_JSON_DEPTH)) throw new BadRequestException(TOO_DEEP);
      },
    });
    return;
  }
  const fastify = app as NestFastifyApplication;
  const parse = fastify.getHttpAdapter().getInstance().getDefaultJsonParser('error', 'error');
  fastify.useBodyParser('application/json', { bodyLimit: MAX_JSON_BYTES }, (req, body, done) => {
    if (nestsDeeperThan(body, MAX_JSON_DEPTH))
      return done(new BadRequestException(TOO_DEEP), undefined);
    // The parser answers through `done`; its return value carries nothing.
    void parse(req as Parameters<typeof parse>[0], body.toString('utf8'), done);
  });
}

/** Creates the demo app on the configured HTTP adapter (not listening yet). */
export async function createDemoApp(
  config: DemoConfig,
  extra: Partial<RateLimitModuleOptions> = {},
  logger: false | undefined = undefined,
): Promise<INestApplication> {
  const adapter =
    config.httpAdapter === 'fastify'
      ? new FastifyAdapter({
          routerOptions: { maxParamLength: FASTIFY_MAX_PARAM_LENGTH },
          bodyLimit: MAX_JSON_BYTES,
        })
      : new ExpressAdapter();
  const app = await NestFactory.create(AppModule.forRoot(config, extra), adapter, {
    logger: logger === false ? false : undefined,
    abortOnError: false,
  });
  limitJsonBodies(app, config.httpAdapter);
  app.enableShutdownHooks();
  return app;
}
