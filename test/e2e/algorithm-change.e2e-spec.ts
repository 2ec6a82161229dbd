import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import request from 'supertest';
import {
  type Algorithm,
  RateLimitGuard,
  RateLimitModule,
  RateLimitStatusService,
} from '@app/rate-limit';
import { uniquePrefix } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

@Controller('changing')
class ChangingController {
  @Get()
  get() {
    return 'ok';
  }
}

/** The same rule name, deployed with another algorithm on the same Redis. */
async function boot(
  url: string,
  keyPrefix: string,
  algorithm: Algorithm,
): Promise<INestApplication> {
  @Module({
    imports: [
      RateLimitModule.forRoot({
        redis: { url },
        keyPrefix,
        rules: [{ name: 'changing', algorithm, limit: 3, window: '1m', key: 'ip' }],
      }),
    ],
    controllers: [ChangingController],
    providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: false });
  await app.init();
  return app;
}

describe('a rule whose algorithm changes between two deploys on the same Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(() => server?.stop());

  it('starts fresh under each algorithm, on Redis, without a single error', async () => {
    const prefix = uniquePrefix('algorithm-change');
    const sequence: Algorithm[] = [
      'fixed-window',
      'token-bucket',
      'sliding-window-log',
      'gcra',
      'fixed-window',
    ];
    for (const [i, algorithm] of sequence.entries()) {
      const app = await boot(server.url, prefix, algorithm);
      try {
        const statuses: number[] = [];
        for (let n = 0; n < 4; n++)
          statuses.push((await request(app.getHttpServer()).get('/changing')).status);
        const stats = app.get(RateLimitStatusService).snapshot().stats!;
        // The fixed window comes back to its own state from the first deploy: its budget is spent.
        expect(statuses).toEqual(
          i === sequence.length - 1 ? [429, 429, 429, 429] : [200, 200, 200, 429],
        );
        expect(stats).toEqual(
          expect.objectContaining({ redisDecisions: 4, fallbackDecisions: 0, commandErrors: 0 }),
        );
      } finally {
        await app.close();
      }
    }
  });
});
