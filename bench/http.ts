import type { Redis } from 'ioredis';
import type { BenchConfig } from './config.js';
import {
  DemoProcess,
  HOT_KEY,
  manyKeys,
  PeerProcess,
  type AdapterName,
  type AppProcess,
  type RouteLimits,
} from './http/app-process.js';
import type { LoadJob, LoadResult } from './http/generator.js';
import { LoadGenerator } from './http/load.js';
import { processCpuSeconds } from './support/cpu.js';
import { redisCpuSeconds, resetStats, scriptStats } from './support/redis-stats.js';

export const ADAPTERS: AdapterName[] = ['express', 'fastify'];

export type Contender =
  'bare' | 'ours-redis' | 'ours-memory' | 'throttler-memory' | 'throttler-redis';

export const CONTENDER_LABELS: Record<Contender, string> = {
  bare: 'bare NestJS app (no limiter)',
  'ours-redis': 'ours: the demo app, Redis',
  'ours-memory': 'ours: the demo app, memory store',
  'throttler-memory': '@nestjs/throttler, in-memory storage',
  'throttler-redis': '@nestjs/throttler + @nest-lab/throttler-storage-redis',
};

export type PathName =
  'bare-hot' | 'bare-many' | 'allowed' | 'allowed-many' | 'memory' | 'denied' | 'log';

interface PathSpec {
  label: string;
  route: 'premium' | 'public';
  keys: 'hot' | 'many';
  limits: RouteLimits;
  expect: '2xx' | '4xx';
  /** Where the limiter's state lives on this path; `none` for the bare app. */
  store: 'redis' | 'memory' | 'none';
}

const BIG = 1_000_000_000;

export const PATHS: Record<PathName, PathSpec> = {
  'bare-hot': {
    label: 'no limiter, one key',
    route: 'premium',
    keys: 'hot',
    limits: {},
    expect: '2xx',
    store: 'none',
  },
  'bare-many': {
    label: 'no limiter, many keys',
    route: 'premium',
    keys: 'many',
    limits: {},
    expect: '2xx',
    store: 'none',
  },
  allowed: {
    label: 'token bucket on Redis (`/api/premium`, demo-pro), limit 1e9',
    route: 'premium',
    keys: 'hot',
    limits: { premium: BIG },
    expect: '2xx',
    store: 'redis',
  },
  'allowed-many': {
    label: 'token bucket on Redis (`/api/premium`), 10,000 API keys',
    route: 'premium',
    keys: 'many',
    limits: { premium: BIG },
    expect: '2xx',
    store: 'redis',
  },
  memory: {
    label: 'memory store (same route)',
    route: 'premium',
    keys: 'hot',
    limits: { premium: BIG },
    expect: '2xx',
    store: 'memory',
  },
  denied: {
    label: 'every request denied (Redis, limit 1 exhausted)',
    route: 'premium',
    keys: 'hot',
    limits: { premium: 1 },
    expect: '4xx',
    store: 'redis',
  },
  log: {
    label: 'sliding log on Redis at limit 1e9 (`/api/public`)',
    route: 'public',
    keys: 'hot',
    limits: { public: BIG },
    expect: '2xx',
    store: 'redis',
  },
};

/** One app process per contender and round; its paths run in this order (denial last: it blocks the key). */
const SESSIONS: Array<{ contender: Contender; paths: PathName[] }> = [
  { contender: 'bare', paths: ['bare-hot', 'bare-many'] },
  { contender: 'ours-redis', paths: ['allowed', 'allowed-many', 'log', 'denied'] },
  { contender: 'ours-memory', paths: ['memory'] },
  { contender: 'throttler-memory', paths: ['memory'] },
  { contender: 'throttler-redis', paths: ['allowed', 'allowed-many', 'log', 'denied'] },
];

export interface HttpSample {
  round: number;
  adapter: AdapterName;
  contender: Contender;
  path: PathName;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  statuses: Record<string, number>;
  errors: number;
  /** CPU used over wall time (1 = one core) by the load generator, the app and redis-server. */
  generatorCpu: number;
  appCpu: number;
  redisCpu: number;
  /** Script runs per request and Redis µs per script run (`INFO commandstats`). */
  scriptsPerRequest: number;
  usecPerScript: number;
  /** Ratio to the bare app of the same round and adapter, with the same keys. */
  vsBare: number;
  error?: string;
}

export interface HttpReport {
  samples: HttpSample[];
}

export async function startContender(
  contender: Contender,
  adapter: AdapterName,
  redisUrl: string,
  config: BenchConfig,
  execArgv: string[] = [],
): Promise<AppProcess> {
  const count = config.http.manyKeys;
  switch (contender) {
    case 'ours-redis':
      return DemoProcess.start({ adapter, redisUrl, manyKeys: count, execArgv });
    case 'ours-memory':
      return DemoProcess.start({ adapter, manyKeys: count, execArgv });
    default:
      return PeerProcess.start(contender, adapter, redisUrl, count);
  }
}

export function loadJob(
  app: AppProcess,
  path: PathName,
  durationS: number,
  config: BenchConfig,
): LoadJob {
  const spec = PATHS[path];
  const job: LoadJob = {
    url: `${app.baseUrl}/api/${spec.route}`,
    connections: config.http.connections,
    durationS,
    headers: spec.route === 'premium' ? { 'x-api-key': HOT_KEY } : {},
  };
  if (spec.keys === 'many')
    job.rotate = { header: 'x-api-key', values: manyKeys(config.http.manyKeys) };
  return job;
}

/** What went wrong with a measurement that still ran, or undefined. */
function problem(
  spec: PathSpec,
  r: LoadResult,
  scripts: number,
  app: AppProcess,
): string | undefined {
  const issues: string[] = [];
  const expected = r.statuses[spec.expect] ?? 0;
  if (expected !== r.requests) {
    const got = Object.entries(r.statuses)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    issues.push(`expected every response ${spec.expect}, got ${got || 'none'}`);
  }
  if (r.errors > 0 || r.timeouts > 0) issues.push(`${r.errors} errors, ${r.timeouts} timeouts`);
  // A limiter that silently admits on store errors would still answer 2xx: check where it decided.
  if (spec.store === 'redis' && scripts === 0) issues.push('no script ran on Redis');
  if (spec.store !== 'redis' && scripts > 0) issues.push(`${scripts} scripts ran on Redis`);
  if (issues.length === 0) return undefined;
  const said = app.stderr();
  return issues.join('; ') + (said ? `; app said: ${said}` : '');
}

export async function benchHttp(
  redisUrl: string,
  admin: Redis,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<HttpReport> {
  const { rounds } = config;
  const { startWarmupS, warmupS, durationS, connections } = config.http;
  const generator = LoadGenerator.start();
  const samples: HttpSample[] = [];
  log(
    `HTTP: ${rounds} round(s) x ${ADAPTERS.length} adapters x ${SESSIONS.length} apps, ` +
      `${connections} connections, ${durationS} s per path`,
  );
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const adapter of ADAPTERS) {
        for (const { contender, paths } of SESSIONS) {
          await admin.flushdb();
          let app: AppProcess | undefined;
          let startError: string | undefined;
          try {
            app = await startContender(contender, adapter, redisUrl, config);
          } catch (error) {
            startError = error instanceof Error ? error.message : String(error);
          }
          for (const [i, path] of paths.entries()) {
            const spec = PATHS[path];
            const base: HttpSample = {
              round,
              adapter,
              contender,
              path,
              reqPerSec: NaN,
              p50Ms: NaN,
              p99Ms: NaN,
              requests: 0,
              statuses: {},
              errors: 0,
              generatorCpu: NaN,
              appCpu: NaN,
              redisCpu: NaN,
              scriptsPerRequest: NaN,
              usecPerScript: NaN,
              vsBare: NaN,
            };
            if (!app) {
              samples.push({ ...base, error: startError });
              log(`  r${round} ${adapter} ${contender} ${path}: FAILED ${startError}`);
              continue;
            }
            try {
              if (Object.keys(spec.limits).length > 0) await app.configure(spec.limits);
              await generator.run(loadJob(app, path, i === 0 ? startWarmupS : warmupS, config));
              await resetStats(admin);
              const appCpu0 = processCpuSeconds(app.pid);
              const redisCpu0 = await redisCpuSeconds(admin);
              const t0 = performance.now();
              const r = await generator.run(loadJob(app, path, durationS, config));
              const wallS = (performance.now() - t0) / 1000;
              const appCpu = (processCpuSeconds(app.pid) - appCpu0) / wallS;
              const redisCpu = ((await redisCpuSeconds(admin)) - redisCpu0) / wallS;
              const scripts = await scriptStats(admin);
              const sample: HttpSample = {
                ...base,
                reqPerSec: r.requests / r.durationS,
                p50Ms: r.p50Ms,
                p99Ms: r.p99Ms,
                requests: r.requests,
                statuses: r.statuses,
                errors: r.errors,
                generatorCpu: r.cpuShare,
                appCpu,
                redisCpu,
                scriptsPerRequest: r.requests > 0 ? scripts.calls / r.requests : NaN,
                usecPerScript: scripts.calls > 0 ? scripts.usec / scripts.calls : NaN,
                error: problem(spec, r, scripts.calls, app),
              };
              samples.push(sample);
              const cpu = `cpu gen ${sample.generatorCpu.toFixed(2)} app ${appCpu.toFixed(2)} redis ${redisCpu.toFixed(2)}`;
              const note = sample.error ? ` (${sample.error})` : '';
              log(
                `  r${round} ${adapter} ${contender} ${path}: ${Math.round(sample.reqPerSec)} req/s, ${cpu}${note}`,
              );
            } catch (error) {
              const message = error instanceof Error ? error.message : String(error);
              samples.push({ ...base, error: message });
              log(`  r${round} ${adapter} ${contender} ${path}: FAILED ${message}`);
            }
          }
          await app?.stop();
        }
      }
    }
  } finally {
    await generator.stop();
  }
  for (const s of samples) {
    const barePath: PathName = PATHS[s.path].keys === 'many' ? 'bare-many' : 'bare-hot';
    const bare = samples.find(
      (b) => b.round === s.round && b.adapter === s.adapter && b.path === barePath && !b.error,
    );
    s.vsBare = bare && !s.error ? s.reqPerSec / bare.reqPerSec : NaN;
  }
  return { samples };
}
