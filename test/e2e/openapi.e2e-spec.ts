import { Controller, Get, type INestApplication, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { ApiOkResponse, DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { RateLimit, RateLimitModule, SkipRateLimit } from '@app/rate-limit';
import { documentRateLimits, RATE_LIMIT_SCHEMA } from '@app/rate-limit/openapi';
import { uniquePrefix } from '../support/demo-app.js';

@Controller('books')
class BooksController {
  @RateLimit({
    name: 'search',
    algorithm: 'sliding-window-log',
    limit: 10,
    window: '1m',
    key: 'ip',
  })
  @ApiOkResponse({ description: 'Matching books' })
  @Get('search')
  search() {
    return [];
  }

  @RateLimit({ name: 'writes', algorithm: 'token-bucket', limit: 5, window: '10s', key: 'api-key' })
  @Post()
  create() {
    return {};
  }

  @Get('free')
  free() {
    return 'ok';
  }
}

@SkipRateLimit()
@Controller('health')
class HealthController {
  @Get()
  check() {
    return 'ok';
  }
}

async function documented(
  headers: 'both' | 'legacy',
  rules = false,
): Promise<{ app: INestApplication; document: OpenAPIObject }> {
  @Module({
    imports: [
      RateLimitModule.forRoot({
        keyPrefix: uniquePrefix('openapi'),
        headers,
        rules: rules
          ? [{ name: 'everything', algorithm: 'fixed-window', limit: 100, window: '1h', key: 'ip' }]
          : [],
      }),
    ],
    controllers: [BooksController, HealthController],
  })
  class DocsApp {}
  const app = await NestFactory.create(DocsApp, new ExpressAdapter(), { logger: false });
  const config = new DocumentBuilder().setTitle('books').build();
  // Before app.init(), as apps usually make their document.
  const document = documentRateLimits(SwaggerModule.createDocument(app, config), app);
  return { app, document };
}

describe('OpenAPI: documentRateLimits', () => {
  const apps: INestApplication[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it('documents the 429, its JSON body and the rate-limit headers of limited operations only', async () => {
    const { app, document } = await documented('both');
    apps.push(app);
    const search = document.paths['/books/search'].get!;
    expect(Object.keys(search.responses).sort()).toEqual(['200', '429']);
    expect(search.responses['200']).toMatchObject({ description: 'Matching books' });
    expect(Object.keys((search.responses['200'] as { headers: object }).headers).sort()).toEqual([
      'RateLimit',
      'RateLimit-Policy',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ]);
    const denied = search.responses['429'] as {
      description: string;
      headers: Record<string, { schema: object }>;
      content: Record<string, { schema: object }>;
    };
    expect(denied.description).toContain('"search" (sliding-window-log, 10 per 60 s, by ip)');
    expect(denied.headers['Retry-After'].schema).toEqual({ type: 'integer' });
    expect(Object.keys(denied.headers)).toEqual(
      expect.arrayContaining(['Retry-After', 'X-RateLimit-Limit', 'RateLimit-Policy']),
    );
    expect(denied.content['application/json'].schema).toEqual({
      $ref: `#/components/schemas/${RATE_LIMIT_SCHEMA}`,
    });
    expect(document.components!.schemas![RATE_LIMIT_SCHEMA]).toMatchObject({
      type: 'object',
      required: ['statusCode', 'error', 'message', 'rule', 'retryAfter'],
      properties: { statusCode: { type: 'integer', enum: [429] }, retryAfter: { type: 'integer' } },
    });
    expect((search as unknown as Record<string, unknown>)['x-rate-limit']).toEqual([
      {
        name: 'search',
        algorithm: 'sliding-window-log',
        limit: 10,
        windowSeconds: 60,
        key: 'ip',
        mode: 'enforce',
      },
    ]);
    // POST answers 201 by default: its success headers are documented there.
    const create = document.paths['/books'].post!;
    expect(Object.keys(create.responses).sort()).toEqual(['201', '429']);
    expect((create.responses['201'] as { headers: object }).headers).toHaveProperty('RateLimit');
    // Routes without rules, and skipped ones, are left as they were.
    expect(Object.keys(document.paths['/books/free'].get!.responses)).toEqual(['200']);
    expect(Object.keys(document.paths['/health'].get!.responses)).toEqual(['200']);
  });

  it('follows the header style, and documents module-wide rules on every route but skipped ones', async () => {
    const { app, document } = await documented('legacy', true);
    apps.push(app);
    const free = document.paths['/books/free'].get!;
    expect(Object.keys(free.responses).sort()).toEqual(['200', '429']);
    expect(Object.keys((free.responses['200'] as { headers: object }).headers).sort()).toEqual([
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ]);
    const search = document.paths['/books/search'].get!;
    expect(
      (search as unknown as Record<string, Array<{ name: string }>>)['x-rate-limit'].map(
        (r) => r.name,
      ),
    ).toEqual(['everything', 'search']);
    expect(Object.keys(document.paths['/health'].get!.responses)).toEqual(['200']);
  });
});
