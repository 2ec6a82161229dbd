import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon, { type Result } from 'autocannon';
import { Redis } from 'ioredis';
import type { BenchConfig } from './config.js';
import type { HttpAdapterName, HttpAppName } from './http/apps.js';

export interface HttpResult {
  adapter: HttpAdapterName;
  app: HttpAppName;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  error?: string;
}

/** Express: every contender. Fastify: ours against the bare app. */
export const HTTP_CASES: ReadonlyArray<readonly [HttpAdapterName, HttpAppName]> = [
  ['express', 'bare'],
  ['express', 'throttler-memory'],
  ['express', 'throttler-memory-ttl1s'],
  ['express', 'throttler-redis'],
  ['express', 'ours-memory'],
  ['express', 'ours-redis'],
  ['fastify', 'bare'],
  ['fastify', 'ours-memory'],
  ['fastify', 'ours-redis'],
];

export const APP_LABELS: Record<HttpAppName, string> = {
  bare: 'bare (no limiter)',
  'throttler-memory': '@nestjs/throttler, in-memory storage',
  'throttler-memory-ttl1s': '@nestjs/throttler, in-memory storage, ttl 1 s',
  'throttler-redis': '@nestjs/throttler + @nest-lab/throttler-storage-redis',
  'ours-memory': 'ours, MemoryStore',
  'ours-redis': 'ours, RedisStore',
};

const SERVER = fileURLToPath(new URL('./http/server.js', import.meta.url));

interface Server {
  child: ChildProcess;
  port: number;
  stderr: () => string;
}

async function startServer(app: HttpAppName, adapter: HttpAdapterName, redisUrl: string): Promise<Server> {
  const child = fork(SERVER, [app, adapter], {
    env: { ...process.env, BENCH_REDIS_URL: redisUrl },
    execArgv: [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  // Kept short: a peer failing on every request would otherwise log megabytes.
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 2_000) stderr += chunk.toString();
  });
  const message = await new Promise<{ port?: number; error?: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ error: 'the app did not start within 30 s' }), 30_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as { port?: number; error?: string });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ error: `the app exited with code ${code}: ${stderr.trim().split('\n')[0] ?? ''}` });
    });
  });
  if (message.port === undefined) {
    await stopServer(child);
    throw new Error(message.error ?? 'the app did not report a port');
  }
  return { child, port: message.port, stderr: () => stderr };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  if (child.connected) child.send('close');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function load(port: number, connections: number, durationS: number): PromiseLike<Result> {
  const url = `http://127.0.0.1:${port}/ping`;
  return autocannon({ url, connections, duration: durationS, pipelining: 1 });
}

export async function benchHttp(
  redisUrl: string,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<HttpResult[]> {
  const { connections, warmupS, durationS } = config.http;
  const admin = new Redis(redisUrl);
  const results: HttpResult[] = [];
  log(`HTTP: ${HTTP_CASES.length} cases, ${connections} connections, ${durationS} s each`);
  try {
    for (const [adapter, app] of HTTP_CASES) {
      await admin.flushdb();
      const base: HttpResult = {
        adapter,
        app,
        reqPerSec: NaN,
        p50Ms: NaN,
        p99Ms: NaN,
        requests: 0,
        non2xx: 0,
        errors: 0,
        timeouts: 0,
      };
      let server: Server | undefined;
      try {
        server = await startServer(app, adapter, redisUrl);
        if (warmupS > 0) await load(server.port, connections, warmupS);
        const r = await load(server.port, connections, durationS);
        const result: HttpResult = {
          ...base,
          reqPerSec: r.requests.total / r.duration,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          requests: r.requests.total,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
        };
        // A limiter that silently admits on store errors would still answer 200: check it wrote to Redis.
        if (app.endsWith('-redis') && (await admin.dbsize()) === 0) {
          result.error = 'nothing was written to Redis';
        }
        if (r.non2xx > 0 || r.errors > 0) {
          const firstLine = server.stderr().trim().split('\n')[0];
          const said = firstLine ? `; server said: ${firstLine}` : '';
          result.error = `${r.non2xx} non-2xx, ${r.errors} errors${said}`;
        }
        results.push(result);
        const problem = result.error ? ` (${result.error})` : '';
        log(`  ${adapter} ${app}: ${Math.round(result.reqPerSec)} req/s, p99 ${result.p99Ms} ms${problem}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        results.push({ ...base, error: message });
        log(`  ${adapter} ${app}: FAILED ${message}`);
      } finally {
        if (server) await stopServer(server.child);
      }
    }
  } finally {
    admin.disconnect();
  }
  return results;
}
