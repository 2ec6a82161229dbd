import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { RateLimit, type RequestFn } from '@app/rate-limit';

/** Set by PremiumAuthMiddleware, which sees the raw Node request on Fastify. */
const tierOf: RequestFn<string | undefined> = (ctx) => {
  const request = ctx.switchToHttp().getRequest<{ tier?: string; raw?: { tier?: string } }>();
  return request.tier ?? request.raw?.tier;
};

/** `high` for paying tiers; everyone else (free, unknown or no key) is `low`. */
const priorityOf: RequestFn<string | undefined> = (ctx, client) => {
  const tier = tierOf(ctx, client);
  return tier === 'pro' || tier === 'enterprise' ? 'high' : 'low';
};

/** The demo's limited routes (see the README's demo section). */
@Controller('api')
export class ApiController {
  @RateLimit({
    name: 'public',
    algorithm: 'sliding-window-log',
    limit: 10,
    window: '60s',
    key: 'ip',
  })
  @Get('public')
  getPublic() {
    return { ok: true, route: 'public' };
  }

  @RateLimit({
    name: 'premium',
    algorithm: 'token-bucket',
    limit: 100,
    window: '60s',
    key: 'api-key',
    tiers: { free: 100, pro: 1000, enterprise: 'exempt' },
    tier: tierOf,
  })
  @Get('premium')
  getPremium() {
    return { ok: true, route: 'premium' };
  }

  @RateLimit(
    { name: 'writes', algorithm: 'fixed-window', limit: 20, window: '60s', key: 'api-key' },
    { name: 'writes-burst', algorithm: 'token-bucket', limit: 5, window: '10s', key: 'api-key' },
  )
  @Post('data')
  @HttpCode(201)
  postData(@Body() body: unknown) {
    return { ok: true, route: 'data', received: body ?? null };
  }

  @RateLimit({
    name: 'shared',
    algorithm: 'weighted-token-bucket',
    limit: 40,
    window: '1s',
    key: 'global',
    classes: { high: 3, low: 1 },
    class: priorityOf,
  })
  @Get('shared')
  getShared() {
    return { ok: true, route: 'shared' };
  }
}
