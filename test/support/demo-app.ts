import type { INestApplication } from '@nestjs/common';
import type { RateLimitModuleOptions } from '@app/rate-limit';
import { createDemoApp } from '../../apps/demo/src/bootstrap.js';
import { loadDemoConfig } from '../../apps/demo/src/config/demo-config.js';

export type Adapter = 'express' | 'fastify';
export const ADAPTERS: Adapter[] = ['express', 'fastify'];

export interface RunningApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/** Starts the demo app on 127.0.0.1:<free port> with the given environment (README: The demo app). */
export async function startDemo(
  env: Record<string, string | undefined>,
  extra: Partial<RateLimitModuleOptions> = {},
): Promise<RunningApp> {
  const config = loadDemoConfig({ ...env, PORT: '0', HOST: '127.0.0.1' });
  const app = await createDemoApp(config, extra, false);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

/** A unique Redis key prefix per test file and run, so suites never see each other's state. */
export function uniquePrefix(name: string): string {
  return `t-${name}-${process.pid}-${Date.now().toString(36)}`;
}
