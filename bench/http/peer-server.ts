/**
 * One peer app in its own process. Usage: `node peer-server.js <app> <adapter> <port>` with
 * BENCH_REDIS_URL set; reports `{ ready: true }` (or `{ error }`) over IPC, takes
 * `{ limits: { premium?, public? } }` messages (answered `{ ok: true }`) and exits on `close`.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { limits, peerApp, type PeerAppName } from './peer-apps.js';

const send = (message: unknown) =>
  new Promise<void>((resolve) => process.send!(message, () => resolve()));

const [name, adapterName, port] = process.argv.slice(2) as [PeerAppName, string, string];
let app: INestApplication | undefined;
try {
  const adapter = adapterName === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  app = await NestFactory.create(peerApp(name, process.env.BENCH_REDIS_URL ?? ''), adapter, {
    logger: ['error'],
    abortOnError: false,
  });
  await app.listen(Number(port), '127.0.0.1');
  await send({ ready: true });
} catch (error) {
  await send({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.exit(1);
}

process.on('message', (message: 'close' | { limits: Partial<typeof limits> }) => {
  if (message === 'close') {
    void app!
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(0));
    return;
  }
  Object.assign(limits, message.limits);
  void send({ ok: true });
});
