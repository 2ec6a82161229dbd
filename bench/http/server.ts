/**
 * One benchmark app in its own process, so the load generator and the server do not share an
 * event loop. Usage: `node server.js <app> <adapter>` with BENCH_REDIS_URL set; reports
 * `{ port }` (or `{ error }`) over IPC and closes on the message `close`.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { benchApp, type HttpAdapterName, type HttpAppName } from './apps.js';

const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

const [name, adapterName] = process.argv.slice(2) as [HttpAppName, HttpAdapterName];
let app: INestApplication | undefined;
try {
  const adapter = adapterName === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  app = await NestFactory.create(benchApp(name, process.env.BENCH_REDIS_URL ?? ''), adapter, {
    logger: ['error'],
    abortOnError: false,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  await send({ port });
} catch (error) {
  await send({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.exit(1);
}

process.on('message', (message) => {
  if (message !== 'close') return;
  void app!
    .close()
    .catch(() => undefined)
    .finally(() => process.exit(0));
});
