import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/redis-server.js';

export type AdapterName = 'express' | 'fastify';

/** What an app is set to before a measured path: the limits of its two routes. */
export interface RouteLimits {
  premium?: number;
  public?: number;
}

/** An app under test in its own process. */
export interface AppProcess {
  readonly pid: number | undefined;
  readonly baseUrl: string;
  /** Sets the route limits and clears the state of the hot keys, then checks they are in force. */
  configure(limits: RouteLimits): Promise<void>;
  stop(): Promise<void>;
  /** The first lines the app wrote to stderr, for failure reports. */
  stderr(): string;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEMO_MAIN = `${ROOT}dist/apps/demo/main.js`;
const PEER_SERVER = fileURLToPath(new URL('./peer-server.js', import.meta.url));
const ADMIN_TOKEN = 'bench-admin-token';

/** The key every hot-key path sends, and the demo keys every app accepts. */
export const HOT_KEY = 'demo-pro';
export function manyKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `k${i}`);
}
function demoApiKeys(count: number): string {
  const extra = manyKeys(count).map((k) => `${k}:pro`);
  return ['demo-free:free', 'demo-pro:pro', 'demo-enterprise:enterprise', ...extra].join(',');
}

function captureStderr(child: ChildProcess): () => string {
  // Kept short: an app failing on every request would otherwise log megabytes.
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (text.length < 2_000) text += chunk.toString();
  });
  return () => text.trim().split('\n').slice(0, 3).join(' | ');
}

async function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return response;
}

export interface DemoOptions {
  adapter: AdapterName;
  /** Unset: the memory store. */
  redisUrl?: string;
  manyKeys: number;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  execArgv?: string[];
}

/**
 * The demo app exactly as shipped (`node dist/apps/demo/main.js`), configured only through its
 * environment and its admin API: what is measured is the real route code.
 */
export class DemoProcess implements AppProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly stderr: () => string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: DemoOptions): Promise<DemoProcess> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      HTTP_ADAPTER: options.adapter,
      ADMIN_TOKEN,
      DEMO_API_KEYS: demoApiKeys(options.manyKeys),
    };
    if (options.redisUrl) env.REDIS_URL = options.redisUrl;
    const child = spawn(process.execPath, [...(options.execArgv ?? []), DEMO_MAIN], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const demo = new DemoProcess(child, `http://127.0.0.1:${port}`, captureStderr(child));
    const store = options.redisUrl ? 'redis' : 'memory';
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`the demo exited with code ${child.exitCode}: ${demo.stderr()}`);
      if (Date.now() > deadline) {
        await demo.stop();
        throw new Error(
          `the demo did not report store "${store}" on /health within 30 s: ${demo.stderr()}`,
        );
      }
      try {
        const body = (await (await fetch(`${demo.baseUrl}/health`)).json()) as {
          info?: { rate_limit?: { store?: string } };
        };
        if (body.info?.rate_limit?.store === store) return demo;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async admin(method: string, path: string, body?: unknown): Promise<void> {
    const response = await fetch(`${this.baseUrl}/admin${path}`, {
      method,
      // Fastify refuses an empty body declared as JSON.
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`${method} /admin${path} answered ${response.status}: ${text.slice(0, 200)}`);
  }

  async configure(limits: RouteLimits): Promise<void> {
    const routes: Array<
      ['premium' | 'public', number | undefined, string, Record<string, string>]
    > = [
      ['premium', limits.premium, HOT_KEY, { 'x-api-key': HOT_KEY }],
      ['public', limits.public, '127.0.0.1', {}],
    ];
    for (const [rule, limit, key, headers] of routes) {
      if (limit === undefined) continue;
      await this.admin('PATCH', `/rules/${rule}`, { limit });
      await this.admin('DELETE', `/rules/${rule}/keys/${encodeURIComponent(key)}`);
      // In force on this instance once its responses say so (the admin API promises 2 s at most).
      const deadline = Date.now() + 3_000;
      for (;;) {
        const response = await get(`${this.baseUrl}/api/${rule}`, headers);
        if (response.headers.get('x-ratelimit-limit') === String(limit)) break;
        if (Date.now() > deadline)
          throw new Error(`the ${rule} limit ${limit} was not in force within 3 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await exited(this.child, 10_000);
  }
}

/** A peer app (bare, the guard floor, or `@nestjs/throttler` on either storage) in its own process. */
export class PeerProcess implements AppProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly stderr: () => string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(
    app: 'bare' | 'throttler-memory' | 'throttler-redis' | 'floor',
    adapter: AdapterName,
    redisUrl: string,
    manyKeyCount: number,
  ): Promise<PeerProcess> {
    const port = await freePort();
    const child = fork(PEER_SERVER, [app, adapter, String(port)], {
      env: {
        PATH: process.env.PATH,
        BENCH_REDIS_URL: redisUrl,
        DEMO_API_KEYS: demoApiKeys(manyKeyCount),
      },
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const stderr = captureStderr(child);
    const message = await new Promise<{ ready?: boolean; error?: string }>((resolve) => {
      const timer = setTimeout(
        () => resolve({ error: 'the app did not start within 30 s' }),
        30_000,
      );
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as { ready?: boolean; error?: string });
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ error: `the app exited with code ${code}: ${stderr()}` });
      });
    });
    const peer = new PeerProcess(child, `http://127.0.0.1:${port}`, stderr);
    if (!message.ready) {
      await peer.stop();
      throw new Error(message.error ?? 'the app did not say it was ready');
    }
    return peer;
  }

  async configure(limits: RouteLimits): Promise<void> {
    const acked = new Promise((resolve) => this.child.once('message', resolve));
    this.child.send({ limits });
    await acked;
  }

  async stop(): Promise<void> {
    if (this.child.connected) this.child.send('close');
    else this.child.kill('SIGTERM');
    await exited(this.child, 5_000);
  }
}
