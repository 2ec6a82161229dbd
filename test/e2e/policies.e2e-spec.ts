import {
  Body,
  Controller,
  type ExecutionContext,
  Get,
  HttpCode,
  type INestApplication,
  Module,
  Post,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RateLimit,
  RateLimitGuard,
  RateLimiter,
  RateLimitExceededError,
  RateLimitModule,
  type RateLimitModuleOptions,
} from '@app/rate-limit';
import { RateLimitAdminModule } from '@app/rate-limit/admin';
import {
  ADAPTERS,
  type Adapter,
  type RunningApp,
  startDemo,
  uniquePrefix,
} from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

const TOKEN = 'policies-admin-token-0123456789';
const CALLER = 'x-caller';
const caller = (ctx: ExecutionContext) =>
  String(ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[CALLER]);

/** Handlers reached, in order: which held requests ran, and when. */
const reached: string[] = [];
/** Handlers of the login route now running. */
let inFlight = 0;

@Controller('p')
class PolicyController {
  @RateLimit({
    name: 'penalty',
    algorithm: 'token-bucket',
    limit: 2,
    window: '1s',
    key: caller,
    blockDuration: '2s',
  })
  @Get('penalty')
  penalty() {
    return 'ok';
  }

  // One request a second, and up to 2 s of queue behind it.
  @RateLimit({
    name: 'shaped',
    algorithm: 'gcra',
    limit: 1,
    window: '1s',
    key: caller,
    maxDelay: '2s',
  })
  @Get('shaped')
  shaped() {
    reached.push(`shaped:${Date.now()}`);
    return 'ok';
  }

  @RateLimit({
    name: 'login',
    algorithm: 'sliding-window-log',
    limit: 5,
    window: '15m',
    key: caller,
    count: 'failures',
  })
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { password?: string; holdMs?: number }) {
    inFlight++;
    try {
      if (body.holdMs) await sleep(body.holdMs);
      if (body.password !== 'right') throw new UnauthorizedException('wrong password');
      return { ok: true };
    } finally {
      inFlight--;
    }
  }
}

async function boot(adapter: Adapter, options: RateLimitModuleOptions): Promise<INestApplication> {
  @Module({
    imports: [RateLimitModule.forRoot(options), RateLimitAdminModule.forRoot({ token: TOKEN })],
    controllers: [PolicyController],
    providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
  })
  class PolicyModule {}
  const app = await NestFactory.create(
    PolicyModule,
    adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
    { logger: false, abortOnError: false },
  );
  await app.listen(0, '127.0.0.1');
  return app;
}

/** Polls `check` every 25 ms until it holds (a loaded machine may take a while). */
async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(25);
  }
}

const STORES = ['redis', 'memory'] as const;

describe.each(ADAPTERS.flatMap((a) => STORES.map((s) => [a, s] as const)))(
  'rule policies on %s over %s',
  (adapter, store) => {
    let server: RedisServer | undefined;
    let app: INestApplication;
    let url: string;
    let limiter: RateLimiter;
    let n = 0;
    /** A caller no other test uses. */
    const fresh = () => `${adapter}-${store}-${n++}`;
    const get = (path: string, who: string, signal?: AbortSignal) =>
      fetch(`${url}${path}`, { headers: { [CALLER]: who }, signal });
    const login = (who: string, password: string, holdMs = 0) =>
      fetch(`${url}/p/login`, {
        method: 'POST',
        headers: { [CALLER]: who, 'content-type': 'application/json' },
        body: JSON.stringify({ password, holdMs }),
      });
    const admin = (method: string, path: string) =>
      fetch(`${url}/admin${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });

    beforeAll(async () => {
      const prefix = uniquePrefix(`policies-${adapter}-${store}`);
      if (store === 'redis') server = await RedisServer.start();
      app = await boot(adapter, {
        keyPrefix: prefix,
        ...(server ? { redis: { url: server.url } } : {}),
      });
      url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
      limiter = app.get(RateLimiter);
    });
    afterAll(async () => {
      await app?.close();
      await server?.stop();
    });

    describe('blockDuration', () => {
      it('keeps a denied caller denied for the block, in the headers and admin inspect, then admits', async () => {
        const who = fresh();
        expect((await get('/p/penalty', who)).status).toBe(200);
        expect((await get('/p/penalty', who)).status).toBe(200);
        const denied = await get('/p/penalty', who);
        const deniedAt = Date.now();
        expect(denied.status).toBe(429);
        // The bucket alone would admit again in 500 ms: the block says 2 s.
        expect(denied.headers.get('retry-after')).toBe('2');
        expect(denied.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(denied.headers.get('ratelimit')).toMatch(/^"penalty";r=0;t=2$/);
        const reset = Number(denied.headers.get('x-ratelimit-reset')) * 1000;
        expect(reset).toBeGreaterThanOrEqual(deniedAt + 1_000);

        const inspect = await admin('GET', `/rules/penalty/keys/${who}`);
        const seen = (await inspect.json()) as { remaining: number; resetAt: number };
        expect(seen.remaining).toBe(0);
        expect(seen.resetAt).toBeGreaterThan(deniedAt + 1_000);
        expect(seen.resetAt).toBeLessThanOrEqual(deniedAt + 2_000);

        // Past the bucket's own refill, still blocked.
        await until(async () => Date.now() >= deniedAt + 800);
        expect((await get('/p/penalty', who)).status).toBe(429);

        await until(async () => (await get('/p/penalty', who)).status === 200);
        expect(Date.now()).toBeGreaterThanOrEqual(seen.resetAt - 50);
      });

      it('is cleared by an admin reset of the key', async () => {
        const who = fresh();
        for (let i = 0; i < 3; i++) await get('/p/penalty', who);
        expect((await get('/p/penalty', who)).status).toBe(429);
        expect((await admin('DELETE', `/rules/penalty/keys/${who}`)).status).toBe(204);
        expect((await get('/p/penalty', who)).status).toBe(200);
      });
    });

    describe('maxDelay (shaping)', () => {
      it('holds requests within maxDelay for their slots, in order, and denies beyond it', async () => {
        const who = fresh();
        reached.length = 0;
        const started = Date.now();
        const responses = await Promise.all(
          [0, 1, 2, 3].map(async (i) => {
            await sleep(i * 20); // sent in this order
            const res = await get('/p/shaped', who);
            const delay = res.headers.get('x-ratelimit-delay-ms');
            return {
              i,
              status: res.status,
              delay: delay === null ? 0 : Number(delay),
              at: Date.now(),
            };
          }),
        );
        expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
        const [first, second, third] = responses;
        expect(first.delay).toBe(0);
        // One slot a second: about 1 s and 2 s behind the first (less what passed since it).
        expect(second.delay).toBeGreaterThan(500);
        expect(second.delay).toBeLessThanOrEqual(1_000);
        expect(third.delay).toBeGreaterThan(1_500);
        expect(third.delay).toBeLessThanOrEqual(2_000);
        expect(second.at - started).toBeGreaterThanOrEqual(second.delay - 20);
        expect(third.at - started).toBeGreaterThanOrEqual(third.delay - 20);
        // Handlers ran in slot order, each after its wait.
        const times = reached.map((r) => Number(r.split(':')[1]));
        expect(times).toHaveLength(3);
        expect(times[1] - times[0]).toBeGreaterThan(400);
        expect(times[2] - times[1]).toBeGreaterThan(400);
      });

      it('gives the slot of a request whose client went away to the next one', async () => {
        const who = fresh();
        reached.length = 0;
        expect((await get('/p/shaped', who)).status).toBe(200);
        const before = (await limiter.peek('shaped', who)).resetAtMs;
        const abort = new AbortController();
        const gone = get('/p/shaped', who, abort.signal).catch((error: Error) => error.name);
        // Its slot reserved: the arrival time moved a second on.
        await until(async () => (await limiter.peek('shaped', who)).resetAtMs >= before + 900);
        abort.abort();
        expect(await gone).toBe('AbortError');
        // Refunded: the arrival time is back.
        await until(async () => (await limiter.peek('shaped', who)).resetAtMs < before + 500);
        const next = await get('/p/shaped', who);
        expect(next.status).toBe(200);
        expect(Number(next.headers.get('x-ratelimit-delay-ms'))).toBeLessThanOrEqual(1_000);
        // The given-up request never reached its handler.
        expect(reached).toHaveLength(2);
      });

      it('acquire waits for a shaped slot instead of asking again, and gives it back on abort', async () => {
        const who = fresh();
        const [a, b] = await Promise.all([
          limiter.acquire('shaped', who),
          sleep(10).then(() => limiter.acquire('shaped', who)),
        ]);
        expect(a.waitedMs).toBe(0);
        expect(b.waitedMs).toBeGreaterThan(500);
        expect(b.waitedMs).toBeLessThanOrEqual(1_000);
        const held = (await limiter.peek('shaped', who)).resetAtMs;
        const abort = new AbortController();
        const waiting = limiter.acquire('shaped', who, { signal: abort.signal });
        await until(async () => (await limiter.peek('shaped', who)).resetAtMs >= held + 900);
        abort.abort(new Error('stop'));
        await expect(waiting).rejects.toThrow('stop');
        expect((await limiter.peek('shaped', who)).resetAtMs).toBeLessThan(held + 500);

        // A slot further than maxWait is given back at once.
        const error = await limiter
          .acquire('shaped', who, { maxWait: 100 })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RateLimitExceededError);
        expect((await limiter.peek('shaped', who)).resetAtMs).toBeLessThan(held + 500);
      });
    });

    describe("count: 'failures'", () => {
      it('allows 5 failed logins, then 429; successful logins cost nothing', async () => {
        const who = fresh();
        for (let i = 0; i < 10; i++) expect((await login(who, 'right')).status).toBe(200);
        for (let i = 0; i < 5; i++) expect((await login(who, 'wrong')).status).toBe(401);
        const denied = await login(who, 'right');
        expect(denied.status).toBe(429);
        expect(denied.headers.get('x-ratelimit-remaining')).toBe('0');
      });

      it('lets no concurrent failure past the limit', async () => {
        const who = fresh();
        const statuses = await Promise.all(
          Array.from({ length: 12 }, () => login(who, 'wrong', 200).then((r) => r.status)),
        );
        expect(statuses.filter((s) => s === 401)).toHaveLength(5);
        expect(statuses.filter((s) => s === 429)).toHaveLength(7);
      });

      it('successes in flight hold their charge until they finish: at most that many false denials', async () => {
        const who = fresh();
        const slow = Array.from({ length: 5 }, () => login(who, 'right', 400));
        await until(async () => inFlight >= 5);
        // All 5 units are held by successes still running: this failure is denied.
        expect((await login(who, 'wrong')).status).toBe(429);
        expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
        for (let i = 0; i < 5; i++) expect((await login(who, 'wrong')).status).toBe(401);
        expect((await login(who, 'wrong')).status).toBe(429);
      });
    });
  },
);

describe.each(ADAPTERS)('the demo login on %s', (adapter) => {
  let demo: RunningApp;
  beforeAll(async () => {
    demo = await startDemo({ HTTP_ADAPTER: adapter });
  });
  afterAll(() => demo?.close());
  const login = (password: string) =>
    fetch(`${demo.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'demo', password }),
    });

  it('allows 5 failed logins per 15 minutes; successful ones cost nothing', async () => {
    for (let i = 0; i < 8; i++) expect((await login('demo-password')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login('guess')).status).toBe(401);
    const denied = await login('demo-password');
    expect(denied.status).toBe(429);
    expect(((await denied.json()) as { rule: string }).rule).toBe('login');
  });
});
