import type { Redis } from 'ioredis';
import { FLOOR_BUSY_US, type BenchConfig } from './config.js';
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
import { machineBusySeconds, processCpuSeconds } from './support/cpu.js';
import { redisCpuSeconds, resetStats, scriptStats } from './support/redis-stats.js';

export const ADAPTERS: AdapterName[] = ['express', 'fastify'];

export type Contender =
  'bare' | 'floor' | 'ours-redis' | 'ours-memory' | 'throttler-memory' | 'throttler-redis';

export const CONTENDER_LABELS: Record<Contender, string> = {
  bare: 'bare NestJS app (no limiter)',
  floor: `guard floor: a guard that sets the same headers and spends ${FLOOR_BUSY_US} µs of CPU`,
  'ours-redis': 'ours: the demo app, Redis',
  'ours-memory': 'ours: the demo app, memory store',
  'throttler-memory': '@nestjs/throttler, in-memory storage',
  'throttler-redis': '@nestjs/throttler + @nest-lab/throttler-storage-redis',
};

export type PathName =
  'bare-hot' | 'bare-many' | 'floor' | 'allowed' | 'allowed-many' | 'memory' | 'denied' | 'log';

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
  floor: {
    label: `guard floor (same headers, ${FLOOR_BUSY_US} µs of CPU, no decision)`,
    route: 'premium',
    keys: 'hot',
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

const CONTENDERS: Contender[] = [
  'bare',
  'floor',
  'ours-redis',
  'ours-memory',
  'throttler-memory',
  'throttler-redis',
];

/**
 * Within a round every app runs at once (idle between its turns) and each limited path is measured
 * right after the bare app, so a ratio's two figures are seconds apart on a machine whose load
 * changes. Denial last: it blocks the key.
 */
const GROUPS: Array<{ bare: PathName; runs: Array<[Contender, PathName]> }> = [
  {
    bare: 'bare-hot',
    runs: [
      ['ours-redis', 'allowed'],
      ['throttler-redis', 'allowed'],
      ['floor', 'floor'],
    ],
  },
  {
    bare: 'bare-many',
    runs: [
      ['ours-redis', 'allowed-many'],
      ['throttler-redis', 'allowed-many'],
    ],
  },
  {
    bare: 'bare-hot',
    runs: [
      ['ours-memory', 'memory'],
      ['throttler-memory', 'memory'],
    ],
  },
  {
    bare: 'bare-hot',
    runs: [
      ['ours-redis', 'log'],
      ['throttler-redis', 'log'],
    ],
  },
  {
    bare: 'bare-hot',
    runs: [
      ['ours-redis', 'denied'],
      ['throttler-redis', 'denied'],
    ],
  },
];

export interface HttpSample {
  round: number;
  /** The limited path this measurement belongs to (for the bare app: the one it is the baseline of). */
  group: PathName;
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
  /** CPU the rest of the machine took meanwhile (other processes, cores in use beyond ours). */
  otherCpu: number;
  /**
   * Script runs per request (ours batches a turn's requests into one) and Redis µs spent in
   * scripts per request (`INFO commandstats`).
   */
  scriptsPerRequest: number;
  usecPerRequest: number;
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

/** Decisions the app made without Redis since it started (ours only; the peers have no such count). */
async function fallbackDecisions(app: AppProcess, contender: Contender): Promise<number> {
  if (contender !== 'ours-redis') return 0;
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  return Number(/^rate_limit_fallback_decisions_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** What went wrong with a measurement that still ran, or undefined. */
function problem(
  spec: PathSpec,
  r: LoadResult,
  scripts: number,
  app: AppProcess,
  fallbacks: number,
  denialsCached: boolean,
  contender: Contender,
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
  if (fallbacks > 0)
    issues.push(`${fallbacks} decisions were made without Redis (the breaker's fallback)`);
  // Denials the deny cache answers need no script: for them, the fallback count is the check.
  const onRedis = spec.store === 'redis' && !denialsCached;
  if (onRedis && scripts === 0) issues.push('no script ran on Redis');
  // Ours decides a turn's requests in one script call, so its check is the fallback count above;
  // a peer makes one call per request, and fewer calls mean decisions made elsewhere.
  else if (onRedis && contender !== 'ours-redis' && scripts < 0.95 * r.requests) {
    // Fewer scripts than requests: the rest were decided elsewhere (a breaker's fallback), not on Redis.
    const share = Math.round((scripts / r.requests) * 100);
    issues.push(
      `only ${share}% of requests ran a script on Redis: the rest were decided elsewhere`,
    );
  }
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
  const perRound = GROUPS.reduce((n, g) => n + 1 + g.runs.length, 0);
  log(
    `HTTP: ${rounds} round(s) x ${ADAPTERS.length} adapters x ${perRound} measurements, ` +
      `${connections} connections, ${durationS} s each`,
  );

  const measure = async (app: AppProcess, base: HttpSample, warmS: number): Promise<HttpSample> => {
    const spec = PATHS[base.path];
    if (Object.keys(spec.limits).length > 0) await app.configure(spec.limits);
    await generator.run(loadJob(app, base.path, warmS, config));
    await resetStats(admin);
    const fallbacks0 = await fallbackDecisions(app, base.contender);
    const appCpu0 = processCpuSeconds(app.pid);
    const redisCpu0 = await redisCpuSeconds(admin);
    const machine0 = machineBusySeconds();
    const t0 = performance.now();
    const r = await generator.run(loadJob(app, base.path, durationS, config));
    const wallS = (performance.now() - t0) / 1000;
    const appCpu = (processCpuSeconds(app.pid) - appCpu0) / wallS;
    const machineCpu = (machineBusySeconds() - machine0) / wallS;
    const redisCpu = ((await redisCpuSeconds(admin)) - redisCpu0) / wallS;
    const scripts = await scriptStats(admin);
    const fallbacks = (await fallbackDecisions(app, base.contender)) - fallbacks0;
    const denialsCached = base.contender === 'ours-redis' && spec.expect === '4xx';
    return {
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
      otherCpu: machineCpu - r.cpuShare - appCpu - redisCpu,
      scriptsPerRequest: r.requests > 0 ? scripts.calls / r.requests : NaN,
      usecPerRequest: scripts.calls > 0 && r.requests > 0 ? scripts.usec / r.requests : NaN,
      error: problem(spec, r, scripts.calls, app, fallbacks, denialsCached, base.contender),
    };
  };

  try {
    for (let round = 1; round <= rounds; round++) {
      for (const adapter of ADAPTERS) {
        await admin.flushdb();
        const apps = new Map<Contender, AppProcess>();
        const startErrors = new Map<Contender, string>();
        const warmed = new Set<Contender>();
        try {
          for (const contender of CONTENDERS) {
            try {
              apps.set(contender, await startContender(contender, adapter, redisUrl, config));
            } catch (error) {
              startErrors.set(contender, error instanceof Error ? error.message : String(error));
            }
          }
          for (const { bare, runs } of GROUPS) {
            const group = runs[0][1];
            for (const [contender, path] of [['bare', bare], ...runs] as Array<
              [Contender, PathName]
            >) {
              const base: HttpSample = {
                round,
                group,
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
                otherCpu: NaN,
                scriptsPerRequest: NaN,
                usecPerRequest: NaN,
                vsBare: NaN,
              };
              const label = `r${round} ${adapter} ${contender} ${path}`;
              const app = apps.get(contender);
              let sample: HttpSample;
              try {
                if (!app) throw new Error(startErrors.get(contender));
                sample = await measure(app, base, warmed.has(contender) ? warmupS : startWarmupS);
                warmed.add(contender);
              } catch (error) {
                sample = { ...base, error: error instanceof Error ? error.message : String(error) };
              }
              samples.push(sample);
              if (Number.isNaN(sample.reqPerSec)) {
                log(`  ${label}: FAILED ${sample.error}`);
                continue;
              }
              const cpu =
                `cpu gen ${sample.generatorCpu.toFixed(2)} app ${sample.appCpu.toFixed(2)} ` +
                `redis ${sample.redisCpu.toFixed(2)} others ${sample.otherCpu.toFixed(2)}`;
              const note = sample.error ? ` (${sample.error})` : '';
              log(`  ${label}: ${Math.round(sample.reqPerSec)} req/s, ${cpu}${note}`);
            }
          }
        } finally {
          for (const app of apps.values()) await app.stop();
        }
      }
    }
  } finally {
    await generator.stop();
  }
  for (const s of samples) {
    const bare = samples.find(
      (b) =>
        b.round === s.round &&
        b.adapter === s.adapter &&
        b.group === s.group &&
        b.contender === 'bare' &&
        !b.error,
    );
    s.vsBare = bare && !s.error ? s.reqPerSec / bare.reqPerSec : NaN;
  }
  return { samples };
}
