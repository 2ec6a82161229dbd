/**
 * CPU the guard spends per request, without HTTP: `RateLimitGuard.canActivate` called directly on
 * a route like the demo's premium one (token bucket keyed by API key, limit 1e9, or 1 for the
 * denied case), 50 requests in flight as under the HTTP load. Usage: `node probe.js <redis URL
 * or "memory"> <allowed|denied> <ms>`; reports `{ usPerRequest, requests, denied }` (or `{ error }`)
 * over IPC. On Redis the figure includes ioredis encoding the batch and decoding its reply.
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { RateLimit, RateLimitGuard, RateLimitModule } from '@app/rate-limit';

const send = (message: unknown) =>
  new Promise<void>((resolve) => process.send!(message, () => resolve()));

const [store, mode, msArg] = process.argv.slice(2) as [string, 'allowed' | 'denied', string];
const IN_FLIGHT = 50;

@Controller('api')
class ProbeController {
  @RateLimit({
    name: 'premium',
    algorithm: 'token-bucket',
    limit: mode === 'denied' ? 1 : 1_000_000_000,
    window: '60s',
    key: 'api-key',
  })
  @Get('premium')
  premium() {
    return { ok: true };
  }
}

@Module({
  imports: [
    RateLimitModule.forRoot({
      redis: store === 'memory' ? undefined : { url: store },
      keyPrefix: `bench-guard-${process.pid}`,
    }),
  ],
  controllers: [ProbeController],
  providers: [RateLimitGuard],
})
class ProbeModule {}

/** What the guard touches of a Fastify request and reply. */
const request = {
  headers: { 'x-api-key': 'demo-pro', host: '127.0.0.1' },
  socket: { remoteAddress: '127.0.0.1' },
};
const reply = {
  sent: {} as Record<string, string>,
  headers(headers: Record<string, string>) {
    Object.assign(this.sent, headers);
    return this;
  },
};

try {
  const app = await NestFactory.createApplicationContext(ProbeModule, { logger: ['error'] });
  const guard = app.get(RateLimitGuard);
  const ctx = new ExecutionContextHost(
    [request, reply, () => undefined],
    ProbeController,
    ProbeController.prototype.premium,
  );
  ctx.setType('http');
  let denied = 0;
  const one = () =>
    guard.canActivate(ctx).then(
      () => undefined,
      () => {
        denied++;
      },
    );
  const burst = async () => {
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < IN_FLIGHT; i++) pending.push(one());
    await Promise.all(pending);
  };
  // Warm-up: V8 compiles the path, and the denied case spends its one unit.
  const warmUntil = performance.now() + 500;
  while (performance.now() < warmUntil) await burst();
  denied = 0;
  let requests = 0;
  const cpu0 = process.cpuUsage();
  const until = performance.now() + Number(msArg);
  while (performance.now() < until) {
    await burst();
    requests += IN_FLIGHT;
  }
  const cpu = process.cpuUsage(cpu0);
  await app.close();
  await send({ usPerRequest: (cpu.user + cpu.system) / requests, requests, denied });
  process.exit(0);
} catch (error) {
  await send({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.exit(1);
}
