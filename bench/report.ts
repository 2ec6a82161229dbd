import { FLOOR_BUSY_US, type BenchConfig } from './config.js';
import { ALGORITHMS, type DecisionSample, THREE_RULES_LIMIT } from './decisions.js';
import type { GuardSample } from './guard.js';
import {
  ADAPTERS,
  CONTENDER_LABELS,
  PATHS,
  type Contender,
  type HttpReport,
  type HttpSample,
  type PathName,
} from './http.js';
import type { MemoryReport } from './memory.js';
import type { ProfileResult } from './profile.js';
import type { MachineInfo } from './support/machine.js';
import { median } from './support/stats.js';

export interface RunInfo {
  startedAt: Date;
  finishedAt: Date;
  machine: MachineInfo;
  loadAtEnd: string;
  node: string;
  redis: string;
  revision: string;
  packages: Record<string, string>;
  scripts: Record<string, string>;
  argv: string[];
  config: BenchConfig;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : 'n/a');
const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;

function table(header: string[], rows: Array<Array<string | number>>): string {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
}

const limitLabel = (limit: number) => (limit >= 1e9 ? '1e9' : limit.toLocaleString('en-US'));

/** Peer of ours on each limited path: the throttler on the same kind of storage. */
const PEER: Partial<Record<PathName, Contender>> = {
  allowed: 'throttler-redis',
  'allowed-many': 'throttler-redis',
  denied: 'throttler-redis',
  log: 'throttler-redis',
  memory: 'throttler-memory',
};
const OURS: Partial<Record<PathName, Contender>> = {
  allowed: 'ours-redis',
  'allowed-many': 'ours-redis',
  denied: 'ours-redis',
  log: 'ours-redis',
  memory: 'ours-memory',
};
const LIMITED_PATHS: PathName[] = ['allowed', 'allowed-many', 'memory', 'denied', 'log'];

function cell(
  samples: HttpSample[],
  adapter: string,
  contender: Contender | undefined,
  path: PathName,
) {
  const mine = samples.filter(
    (s) => s.adapter === adapter && s.contender === contender && s.path === path,
  );
  const ok = mine.filter((s) => !s.error);
  const pick = (f: (s: HttpSample) => number) => median(ok.map(f));
  return {
    all: mine,
    ok,
    failed: mine.filter((s) => s.error),
    reqPerSec: pick((s) => s.reqPerSec),
    vsBare: pick((s) => s.vsBare),
    p50: pick((s) => s.p50Ms),
    p99: pick((s) => s.p99Ms),
    gen: pick((s) => s.generatorCpu),
    app: pick((s) => s.appCpu),
    redis: pick((s) => s.redisCpu),
    other: pick((s) => s.otherCpu),
    scripts: pick((s) => s.scriptsPerRequest),
    usec: pick((s) => s.usecPerRequest),
  };
}

function ratioTable(http: HttpReport): string {
  const header = ['path (peer: @nestjs/throttler on the same kind of storage)'];
  for (const a of ADAPTERS) header.push(`${cap(a)}: ours`, `${cap(a)}: throttler`);
  const rows = LIMITED_PATHS.map((path) => {
    const peer =
      PEER[path] === 'throttler-memory' ? 'in-memory storage' : '+ nest-lab Redis storage';
    const cells: string[] = [`${PATHS[path].label} (throttler ${peer})`];
    for (const a of ADAPTERS) {
      for (const c of [OURS[path], PEER[path]]) {
        const x = cell(http.samples, a, c, path);
        cells.push(x.ok.length === 0 ? (x.failed.length > 0 ? 'failed' : '–') : fixed(x.vsBare, 2));
      }
    }
    return cells;
  });
  const floor: string[] = [PATHS.floor.label];
  for (const a of ADAPTERS) {
    const x = cell(http.samples, a, 'floor', 'floor');
    floor.push(x.ok.length === 0 ? (x.failed.length > 0 ? 'failed' : '–') : fixed(x.vsBare, 2), '');
  }
  rows.push(floor);
  const bare: string[] = ['bare app req/s (one key / 10,000 keys)'];
  for (const a of ADAPTERS) {
    const hot = cell(http.samples, a, 'bare', 'bare-hot').reqPerSec;
    const many = cell(http.samples, a, 'bare', 'bare-many').reqPerSec;
    bare.push(`${int(hot)} / ${int(many)}`, '');
  }
  return table(header, [...rows, bare]);
}

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/** Whether the load generator, not the app, could have set the pace. */
function generatorCheck(http: HttpReport, cores: number): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  const valid = http.samples.filter((s) => !s.error);
  const maxGen = Math.max(...valid.map((s) => s.generatorCpu));
  const saturated = valid.filter((s) => s.generatorCpu >= 0.9);
  lines.push(
    `- Load generator CPU (its own process, 1.00 = one core): median ${fixed(median(valid.map((s) => s.generatorCpu)), 2)}, ` +
      `highest ${fixed(maxGen, 2)}. App CPU: median ${fixed(median(valid.map((s) => s.appCpu)), 2)}. ` +
      `Other processes on the machine: median ${fixed(median(valid.map((s) => s.otherCpu)), 2)} of its ` +
      `${cores} cores.`,
  );
  const contended = valid.filter((s) => s.otherCpu >= 0.5);
  if (contended.length > 0) {
    ok = false;
    lines.push(
      `- **Other processes took half a core or more in ${contended.length} of ${valid.length} measurements:** ` +
        'there the app, the generator and Redis queued for the CPU, and figures are lower and noisier than the code alone makes them.',
    );
  }
  const generatorOk = saturated.length === 0;
  if (!generatorOk) {
    ok = false;
    const which = saturated
      .map((s) => `r${s.round} ${s.adapter} ${s.contender} ${s.path}`)
      .join(', ');
    lines.push(
      `- **The load generator used ≥ 0.9 of a core in ${saturated.length} measurement(s)** (${which}): those may be its limit, not the app's.`,
    );
  }
  for (const a of ADAPTERS) {
    for (const keys of ['hot', 'many'] as const) {
      const bare = cell(http.samples, a, 'bare', keys === 'hot' ? 'bare-hot' : 'bare-many');
      const limited = http.samples.filter(
        (s) => s.adapter === a && s.contender !== 'bare' && !s.error && PATHS[s.path].keys === keys,
      );
      const fastest = Math.max(
        ...LIMITED_PATHS.flatMap((p) =>
          [OURS[p], PEER[p]].map((c) => cell(limited, a, c, p).reqPerSec),
        ).filter(Number.isFinite),
      );
      const margin = bare.reqPerSec / fastest;
      const clear = margin >= 1.1;
      let why = '';
      if (!clear) {
        // Close to bare: either the limiters cost little next to the adapter, or something else capped all.
        const gen = Math.max(...bare.ok.map((s) => s.generatorCpu));
        const appCpu = bare.app;
        if (gen < 0.9 && appCpu >= 0.8) {
          why =
            ` — not clearly above, but the generator used at most ${fixed(gen, 2)} of a core and the bare app ` +
            `${fixed(appCpu, 2)}: the app set the pace, and the limiters cost little next to this adapter's own work`;
        } else {
          ok = false;
          why =
            ` — **not clearly above, and the bare app used only ${fixed(appCpu, 2)} of a core (generator up to ` +
            `${fixed(gen, 2)}): something else capped these figures, the machine or the generator**`;
        }
      }
      lines.push(
        `- ${cap(a)}, ${keys === 'hot' ? 'one key' : '10,000 keys'}: bare ${int(bare.reqPerSec)} req/s, ` +
          `fastest limited app ${int(fastest)} req/s (bare ${times(margin)} of it)${why}.`,
      );
    }
  }
  lines.push(
    generatorOk
      ? '- Verdict: the load generator was not the bottleneck (below 0.9 of a core throughout).'
      : '- Verdict: **the load generator may have been the bottleneck in the measurements named above.**',
  );
  if (!ok) lines.push('- **See the bold lines above: some figures may be capped by the machine.**');
  return { lines, ok };
}

/** Other processes on a shared machine take CPU from every contender, unevenly: say so. */
function busy(run: RunInfo): string[] {
  const loads = [run.machine.loadAvg, run.loadAtEnd].map((l) => Number(l.split(' / ')[0]));
  const peak = Math.max(...loads);
  if (!(peak > run.machine.cores * 0.75)) return [];
  return [
    `- **The machine was busy: 1-minute load ${loads.map((l) => l.toFixed(2)).join(' before, ')} after, on ${run.machine.cores} cores.**`,
    '  Other processes took CPU from every contender; the rounds alternate so that each contender meets it alike, but',
    '  absolute req/s are low and single ratios noisy. Rerun on a quiet machine before drawing fine conclusions.',
  ];
}

function httpDetail(http: HttpReport, rounds: number): string {
  const order: Array<[Contender, PathName[]]> = [
    ['bare', ['bare-hot', 'bare-many']],
    ['floor', ['floor']],
    ['ours-redis', ['allowed', 'allowed-many', 'log', 'denied']],
    ['throttler-redis', ['allowed', 'allowed-many', 'log', 'denied']],
    ['ours-memory', ['memory']],
    ['throttler-memory', ['memory']],
  ];
  const rows: Array<Array<string | number>> = [];
  for (const a of ADAPTERS) {
    for (const [c, paths] of order) {
      for (const p of paths) {
        const x = cell(http.samples, a, c, p);
        // The bare app runs once per path in a round: its round figure is the median of those.
        const perRound = Array.from({ length: rounds }, (_, i) => {
          const mine = x.ok.filter((r) => r.round === i + 1);
          return mine.length > 0 ? int(median(mine.map((r) => r.reqPerSec))) : 'failed';
        }).join(' / ');
        const problems = x.failed.map((s) => `r${s.round}: ${s.error}`).join('; ');
        rows.push([
          a,
          CONTENDER_LABELS[c],
          p,
          int(x.reqPerSec),
          perRound,
          c === 'bare' ? '' : fixed(x.vsBare, 2),
          fixed(x.p50, 0),
          fixed(x.p99, 0),
          `${fixed(x.gen, 2)} / ${fixed(x.app, 2)} / ${fixed(x.redis, 2)} / ${fixed(x.other, 2)}`,
          fixed(x.scripts, 2),
          fixed(x.usec, 1),
          problems ? `**${problems}**` : '',
        ]);
      }
    }
  }
  return table(
    [
      'adapter',
      'app',
      'path',
      'req/s (median)',
      'req/s per round (bare: median of its runs in the round)',
      'vs bare (median of per-round ratios)',
      'p50 ms',
      'p99 ms',
      'CPU: generator / app / redis / other processes',
      'scripts per request',
      'Redis µs per request',
      'problems',
    ],
    rows,
  );
}

function decisionCell(
  samples: DecisionSample[],
  store: string,
  contender: string,
  algorithm: string,
  limit: number,
) {
  const mine = samples.filter(
    (s) =>
      s.store === store &&
      s.contender === contender &&
      s.algorithm === algorithm &&
      s.limit === limit,
  );
  const ok = mine.filter((s) => !s.error);
  return {
    ok,
    error: mine.find((s) => s.error)?.error,
    perSec: median(ok.map((s) => s.decisionsPerSec)),
    usec: median(ok.map((s) => s.usecPerDecision)),
    perCall: median(ok.map((s) => s.decisionsPerCall)),
    clientUs: median(ok.map((s) => s.clientUsPerDecision)),
    allowed: median(ok.map((s) => s.allowedShare)),
    fill: mine[0]?.fill ?? NaN,
    inFlight: Math.min(...ok.map((s) => s.inFlight)),
  };
}

function decisionTables(samples: DecisionSample[], config: BenchConfig): string {
  const limits = config.decisions.limits;
  const header = ['contender', ...limits.map((l) => `limit ${limitLabel(l)}`)];
  const fmt = (x: ReturnType<typeof decisionCell>, redis: boolean) => {
    if (x.ok.length === 0) return x.error ? `failed: ${x.error}` : '–';
    const batched = redis && x.perCall >= 1.5 ? `, ${fixed(x.perCall, 0)} per call` : '';
    const us = redis ? `, ${fixed(x.usec, 1)} µs${batched}` : '';
    const slow = x.inFlight < config.decisions.inFlight ? `, ${x.inFlight} in flight` : '';
    return `${int(x.perSec)}${us} (${pct(x.allowed)} allowed${slow})`;
  };
  const redisRows = [
    ...ALGORITHMS.map((a) => [
      `ours ${a}`,
      ...limits.map((l) => fmt(decisionCell(samples, 'redis', 'ours', a, l), true)),
    ]),
    [
      'rate-limiter-flexible RateLimiterRedis (fixed window)',
      ...limits.map((l) => fmt(decisionCell(samples, 'redis', 'rlf', 'fixed-window', l), true)),
    ],
    [
      'minimal token bucket script (ceiling)',
      ...limits.map((l) => fmt(decisionCell(samples, 'redis', 'ceiling', 'token-bucket', l), true)),
    ],
  ];
  const memoryRows = [
    ...ALGORITHMS.map((a) => [
      `ours ${a}`,
      ...limits.map((l) => fmt(decisionCell(samples, 'memory', 'ours', a, l), false)),
    ]),
    [
      'rate-limiter-flexible RateLimiterMemory (fixed window)',
      ...limits.map((l) => fmt(decisionCell(samples, 'memory', 'rlf', 'fixed-window', l), false)),
    ],
  ];
  const ratioRows = ALGORITHMS.map((a) => [
    `ours ${a}`,
    ...limits.map((l) => {
      const ours = decisionCell(samples, 'redis', 'ours', a, l);
      const ceiling = decisionCell(samples, 'redis', 'ceiling', 'token-bucket', l);
      const rlf = decisionCell(samples, 'redis', 'rlf', 'fixed-window', l);
      const vsRlf =
        a === 'fixed-window' ? `; ${times(ours.perSec / rlf.perSec)} RateLimiterRedis` : '';
      return `${times(ours.perSec / ceiling.perSec)} ceiling decisions/s, ${times(ours.usec / ceiling.usec)} its Redis µs, ${times(ours.clientUs / ceiling.clientUs)} its client CPU${vsRlf}`;
    }),
  ]);
  const fills = limits
    .map((l) => `${limitLabel(l)}: ${int(Math.min(l, config.decisions.maxFill))}`)
    .join(', ');
  return [
    `State filled before measuring (units; log entries for the sliding-window log), per limit: ${fills}.`,
    'At limits up to 100,000 the window is full, so the measured decisions are denials at full state',
    '(buckets refill a little, so a few are allowed). At 1e9 a full window cannot be filled: it holds 100,000 and',
    'every decision is allowed (and adds one entry to the log). A case whose fastest of three first decisions takes over 5 ms runs with 2 in',
    'flight instead (Redis runs one script at a time: more would only lengthen the queue) and says so.',
    '',
    '### On Redis: decisions/s, Redis µs per decision (`INFO commandstats`; ours: decisions per script call when batched), share allowed',
    '',
    table(header, redisRows),
    '',
    '### Ours against the minimal script on Redis (above 1×: ours decides more per second; Redis µs and client CPU (the bench process, per decision): below 1×: ours costs less)',
    '',
    table(header, ratioRows),
    '',
    '### In memory: decisions/s, share allowed',
    '',
    table(header, memoryRows),
    '',
    `### One request under three rules against one rule (token bucket, limit ${limitLabel(THREE_RULES_LIMIT)}: every rule charged)`,
    '',
    threeRulesTable(samples),
  ].join('\n');
}

/**
 * Three rules against one: the time per decision (from decisions/s), the CPU it costs the process
 * asking (the app's share of a decision) and, on Redis, Redis's time. The goal: at most 1.2×.
 */
function threeRulesTable(samples: DecisionSample[]): string {
  const rows = (['redis', 'memory'] as const).map((store) => {
    const one = decisionCell(samples, store, 'ours', 'token-bucket', THREE_RULES_LIMIT);
    const three = decisionCell(samples, store, 'ours-3', 'token-bucket', THREE_RULES_LIMIT);
    return [
      store,
      `${int(one.perSec)} / ${int(three.perSec)}: ${times(one.perSec / three.perSec)}`,
      `${fixed(one.clientUs, 2)} / ${fixed(three.clientUs, 2)}: ${times(three.clientUs / one.clientUs)}`,
      store === 'redis'
        ? `${fixed(one.usec, 1)} / ${fixed(three.usec, 1)}: ${times(three.usec / one.usec)}`
        : '–',
    ];
  });
  return table(
    [
      'store',
      'decisions/s, one rule / three: time per decision, three ÷ one',
      'CPU of the asking process, µs per decision: three ÷ one',
      'Redis µs per decision: three ÷ one',
    ],
    rows,
  );
}

function memoryTables(memory: MemoryReport): string {
  const rlfHeap = memory.heap.find((h) => h.store.startsWith('rate-limiter-flexible') && !h.error);
  const heapRows = memory.heap.map((h) =>
    h.error
      ? [h.store, 'failed', h.error]
      : [
          h.store,
          int(h.bytesPerKey),
          rlfHeap && h !== rlfHeap ? times(h.bytesPerKey / rlfHeap.bytesPerKey) : '(peer)',
        ],
  );
  const redisRows = memory.redis.map((r) => [
    r.label,
    int(r.keys),
    int(r.bytesPerKey),
    r.error ? `**${r.error}**` : '',
  ]);
  return [
    '### Redis: `MEMORY USAGE <key> SAMPLES 0`, averaged per identity (limit 1,000, 60 s window)',
    '',
    table(['state', 'identities', 'bytes per identity', 'problems'], redisRows),
    '',
    `### Heap: one process per store, forced GC before and after one decision on each of ${memory.heapKeys.toLocaleString('en-US')} keys`,
    '',
    table(['store', 'bytes per key', 'vs RateLimiterMemory'], heapRows),
  ].join('\n');
}

function profileTables(profiles: ProfileResult[]): string {
  return profiles
    .map((p) => {
      const what =
        p.path === 'allowed'
          ? 'allowed path (token bucket on Redis, one key, limit 1e9)'
          : 'denied path (the same route at limit 1: every request a 429)';
      const title = `### ${cap(p.adapter)}: ${what}, ${int(p.reqPerSec)} req/s under the profiler`;
      if (p.error) return `${title}\n\n**failed: ${p.error}**`;
      const rows = p.top.map((f, i) => [
        i + 1,
        `\`${f.functionName}\``,
        f.location ? `\`${f.location}\`` : '',
        pct(f.share),
        fixed(f.selfMs, 0),
      ]);
      return [
        title,
        '',
        `Profile: \`${p.file}\` (not committed). Sampled ${fixed(p.sampledMs / 1000, 1)} s of the measured load (boot and warm-up left out); idle ${pct(p.idleShare)}.`,
        'Shares are of the non-idle time.',
        '',
        table(['#', 'function', 'where', 'self time', 'self ms'], rows),
        '',
        'Self time by origin:',
        '',
        table(
          ['origin', 'self time'],
          p.byOrigin.slice(0, 10).map((o) => [o.origin, pct(o.share)]),
        ),
      ].join('\n');
    })
    .join('\n\n');
}

function environment(run: RunInfo, command: string): string {
  const versions = table(
    ['', ''],
    [
      ['Node.js', run.node],
      ['redis-server', run.redis],
      ['this repository', run.revision],
      ...Object.entries(run.packages),
    ],
  );
  const machine = table(
    ['', ''],
    [
      ['CPU', run.machine.cpu],
      ['cores', run.machine.cores],
      ['memory', `${run.machine.memoryGiB} GiB`],
      ['OS', run.machine.os],
      ['load average (1/5/15 min) before', run.machine.loadAvg],
      ['load average after', run.loadAtEnd],
      ['run took', `${Math.round((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000)} s`],
    ],
  );
  const script = command === 'bench:profile' ? run.scripts['bench:profile'] : run.scripts.bench;
  const args = run.argv.filter((a) => a !== '--profile');
  return [
    '## Machine',
    '',
    machine,
    '',
    '## Versions',
    '',
    versions,
    '',
    '## Commands',
    '',
    '```sh',
    `npm run ${command}${args.length ? ` -- ${args.join(' ')}` : ''}`,
    `# which runs: ${script ?? ''}`,
    '```',
  ].join('\n');
}

export function renderReport(
  run: RunInfo,
  http: HttpReport,
  decisions: DecisionSample[],
  memory: MemoryReport,
  profiles: ProfileResult[],
  guard: GuardSample[],
): string {
  const { config } = run;
  const h = config.http;
  const check = generatorCheck(http, run.machine.cores);
  return [
    `# Benchmark run ${run.startedAt.toISOString()}${config.quick ? ' (quick)' : ''}`,
    '',
    `Every figure is from this run on this machine. HTTP figures are medians of ${config.rounds} round(s) (ABCABCABC);`,
    'within a round each path runs on the bare app, then ours, then the throttler, and each ratio is to the bare app',
    'measured just before it; the table shows the median of those per-round ratios. Absolute numbers are context: the',
    'machine is shared and noisy. Nothing here is a pass/fail threshold.',
    '',
    '## HTTP req/s ÷ the bare app (median of rounds)',
    '',
    ratioTable(http),
    '',
    '## Was the load generator the bottleneck?',
    '',
    ...check.lines,
    ...busy(run),
    '',
    environment(run, 'bench'),
    '',
    "- Redis: `redis-server --port <free port> --bind 127.0.0.1 --save '' --appendonly no`, its own process, started and stopped by the run.",
    `- HTTP: three kinds of process: the load generator (autocannon ${run.packages.autocannon}'s API in \`dist/bench/http/generator.js\`),`,
    '  the app under test, redis-server. Ours is the demo app itself, `node dist/apps/demo/main.js` with `PORT`, `HOST=127.0.0.1`,',
    '  `HTTP_ADAPTER`, `REDIS_URL` (unset for the memory store), `ADMIN_TOKEN` and `DEMO_API_KEYS` (the three demo keys and',
    `  ${h.manyKeys.toLocaleString('en-US')} more pro keys \`k0\`…), its limits changed through the admin API (\`PATCH /admin/rules/<rule> {limit}\`,`,
    '  then `DELETE /admin/rules/<rule>/keys/<key>`, then a request must show the new `X-RateLimit-Limit`). The peers',
    '  (`node dist/bench/http/peer-server.js <app> <adapter> <port>`) serve the same routes and bodies with the same API-key check',
    '  (401 on an unknown key) and `@nestjs/throttler` keyed the same way (premium by API key, public by IP, 60 s ttl).',
    `- HTTP load: ${h.connections} connections, pipelining 1, ${h.startWarmupS} s warm-up on an app's first turn, ${h.warmupS} s on`,
    `  the others, then ${h.durationS} s measured. Per round and adapter, \`FLUSHDB\`, then every app started at once (idle between`,
    '  its turns); paths in the order allowed, 10,000 keys, memory store, log, denied, each on bare, ours, throttler',
    '  (the guard floor after the throttler on the first).',
    '  Every response must have the expected status class (2xx, or 4xx when denied), and on a Redis path every request must be',
    '  decided on Redis (a peer: a script for at least 95% of the requests; ours, which decides the requests of one',
    '  event-loop turn in script calls of up to 16: scripts ran and `rate_limit_fallback_decisions_total` did not move) and on a',
    '  memory path no script may run, or the figure is reported as a problem and left out of the medians.',
    "- CPU: the generator's own `process.cpuUsage()`, the app's `/proc/<pid>/stat`, redis-server's `INFO cpu`, other processes'",
    "  the machine's `/proc/stat` busy time (user, system, steal; not interrupts) less those three, each over the",
    '  measured wall time. Scripts per request and Redis µs per request (script time ÷ requests): `INFO commandstats` (`eval` + `evalsha`) after `CONFIG RESETSTAT`.',
    `- Raw decisions: no HTTP, in the bench process, one ioredis client per contender, ${config.decisions.inFlight} decisions in flight`,
    `  on one key, ${config.decisions.redisMs} ms on Redis and ${config.decisions.memoryMs} ms in memory per case and round, ${config.rounds} round(s)`,
    '  in the same order; within a round the cases of one store and limit run in turn, in 5 slices each. Redis µs per',
    '  decision: script time from `INFO commandstats` after `CONFIG RESETSTAT`, divided by the decisions made.',
    '- Memory: `MEMORY USAGE` on Redis; heap with `node --expose-gc dist/bench/memory/probe.js <store> <keys>`, one process per store.',
    `- Profile: \`node --cpu-prof --cpu-prof-dir=bench/results/profiles/<run>/<adapter> dist/apps/demo/main.js\`, ${config.profile.durationS} s of the allowed`,
    '  path, then as long at limit 1 (denied), each after a warm-up; the profile is written when the app exits on SIGTERM.',
    '',
    '## Goals',
    '',
    goalsSection(http, decisions, memory, profiles, guard),
    '',
    '## 1. HTTP',
    '',
    '`/api/premium` with `X-API-Key: demo-pro` (10,000 keys: `k0`… in turn, one per request), `/api/public` from 127.0.0.1.',
    'The denied path answers 429 to every request; its figure is how fast denials are served.',
    '',
    httpDetail(http, config.rounds),
    '',
    '## 2. Raw decisions, per algorithm and limit, full window',
    '',
    decisionTables(decisions, config),
    '',
    '## 3. Memory per key',
    '',
    memoryTables(memory),
    '',
    '## 4. CPU profiles of the allowed and denied paths (top 15 frames by self time)',
    '',
    profileTables(profiles),
    '',
    "## 5. The guard's CPU per request, without HTTP",
    '',
    guardTable(guard, config),
    '',
    '## What differs between contenders',
    '',
    '- Ours on HTTP is the whole demo app: its global guard, the premium auth middleware, metrics and the admin module mounted.',
    '  The bare and throttler apps have the same routes, bodies and API-key check, nothing else.',
    '- Ours runs one script call per 16 requests of an event-loop turn (all rules of each, with Redis `TIME`) through',
    '  `EVALSHA`.',
    '  `@nest-lab/throttler-storage-redis` sends its script with `EVAL`. `RateLimiterRedis` runs a short fixed-window script',
    '  (`SET NX`, `INCRBY`, `PTTL`). The minimal script is a bare token bucket (`bench/ceiling-token-bucket.lua`): one hash, no',
    '  rules, no tiers, no options; the least a Redis-backed decision can cost.',
    '- `@nestjs/throttler` has one algorithm (a fixed window with a block); on the log path it is the same as on the others.',
    '  Its in-memory storage keeps one expiry per hit within the ttl, so with one hot key its cost grows with the run.',
    '- The sliding-window log at 1e9 holds every admitted request of the window, so on one hot key its state grows during the',
    `  run (about ${int(h.durationS + h.warmupS)} s of requests when measured); its figure depends on how long the path runs.`,
    '- rate-limiter-flexible has no sliding log, token bucket, leaky bucket or GCRA limiter: it is measured as a fixed window.',
    "- The Redis sliding-window log is filled with `ZADD` in the script's member format (one decision per entry would cost",
    "  O(n²)); the store's own `peek` must then report the fill, or the case fails. The in-memory log is filled one decision at a time.",
    '',
  ].join('\n');
}

/** Section 5: the guard's CPU per request without HTTP. */
function guardTable(guard: GuardSample[], config: BenchConfig): string {
  const value = (store: string, mode: string) => {
    const s = guard.find((g) => g.store === store && g.mode === mode);
    if (!s) return '–';
    return s.error ? `failed: ${s.error}` : `${fixed(s.usPerRequest, 2)} µs`;
  };
  return [
    '`RateLimitGuard.canActivate` called directly (`bench/guard/probe.ts`), each case in a fresh process, 50 requests in',
    `flight, ${config.guard.durationMs} ms after a 500 ms warm-up; CPU of that process (\`process.cpuUsage\`) per request. The route is`,
    'a token bucket keyed by API key, limit 1e9 (allowed) or 1 (denied: on Redis answered from the deny cache). On Redis',
    "the figure includes ioredis encoding the turn's batch and decoding its reply; nothing writes an HTTP response.",
    '',
    table(
      ['store', 'allowed', 'denied'],
      (['memory', 'redis'] as const).map((store) => [
        store,
        value(store, 'allowed'),
        value(store, 'denied'),
      ]),
    ),
  ].join('\n');
}

/** One line per kind of goal, from this run's own figures: where the time went. */
function whyMissed(
  http: HttpReport,
  decisions: DecisionSample[],
  profiles: ProfileResult[],
  guardRange: string,
): string[] {
  const lines: string[] = [];
  const usPerRequest = (
    adapter: string,
    contender: Contender,
    path: PathName,
    of: 'app' | 'redis',
  ) => {
    const x = cell(http.samples, adapter, contender, path);
    return ((of === 'app' ? x.app : x.redis) / x.reqPerSec) * 1e6;
  };
  const share = (p: ProfileResult | undefined, test: (origin: string) => boolean) =>
    p ? p.byOrigin.filter((o) => test(o.origin)).reduce((n, o) => n + o.share, 0) : NaN;
  for (const adapter of ADAPTERS) {
    const floor = cell(http.samples, adapter, 'floor', 'floor').vsBare;
    const ours = (path: PathName) => cell(http.samples, adapter, OURS[path], path).vsBare;
    const profile = profiles.find((p) => !p.error && p.adapter === adapter && p.path === 'allowed');
    const library = share(profile, (o) => o.includes('this library'));
    const native = share(profile, (o) => o.startsWith('native'));
    lines.push(
      `- ${cap(adapter)}, ratios to bare: the guard floor reached ${fixed(floor, 2)}; ours is ` +
        `${times(ours('allowed') / floor)} of the floor allowed and ${times(ours('denied') / floor)} denied ` +
        `(the guard alone: ${guardRange}). In the allowed profile this library is ${pct(library)} of the busy time and ` +
        `native frames (socket writes, GC) ${pct(native)}: the rest is the framework and Node's HTTP.`,
    );
    const appOurs = usPerRequest(adapter, 'ours-redis', 'allowed', 'app');
    const appPeer = usPerRequest(adapter, 'throttler-redis', 'allowed', 'app');
    const redisOurs = usPerRequest(adapter, 'ours-redis', 'allowed', 'redis');
    const redisPeer = usPerRequest(adapter, 'throttler-redis', 'allowed', 'redis');
    const verdict =
      appOurs < appPeer
        ? 'ours costs the app less, so a req/s ratio still below 1.15× is the app waiting on Redis or the ' +
          "run's noise (compare the per-round figures in section 1)"
        : 'ours costs the app more per request in this run';
    lines.push(
      `- ${cap(adapter)}, against the throttler: CPU per allowed request, the app's ${fixed(appOurs, 0)} µs against ` +
        `${fixed(appPeer, 0)}, Redis's ${fixed(redisOurs, 0)} µs against ${fixed(redisPeer, 0)}: ${verdict}.`,
    );
  }
  const slow: string[] = [];
  for (const algorithm of ALGORITHMS) {
    for (const limit of [...new Set(decisions.map((d) => d.limit))]) {
      const ours = decisionCell(decisions, 'redis', 'ours', algorithm, limit);
      const ceiling = decisionCell(decisions, 'redis', 'ceiling', 'token-bucket', limit);
      if (ours.perSec / ceiling.perSec < 0.9)
        slow.push(
          `${algorithm} at ${limitLabel(limit)}: ${fixed(ours.usec, 1)} µs against ${fixed(ceiling.usec, 1)}`,
        );
    }
  }
  if (slow.length > 0)
    lines.push(
      '- Raw decisions below 0.9× the minimal script spend more Redis time per decision, and Redis runs one script at ' +
        `a time: ${slow.join('; ')}. A decision that writes stores every field of its state; the log keeps a sorted set.`,
    );
  const one = decisionCell(decisions, 'redis', 'ours', 'token-bucket', THREE_RULES_LIMIT);
  const three = decisionCell(decisions, 'redis', 'ours-3', 'token-bucket', THREE_RULES_LIMIT);
  lines.push(
    `- Three rules against one on Redis: ${times(three.usec / one.usec)} the Redis time and ` +
      `${times(three.clientUs / one.clientUs)} the asking process's CPU: each rule reads and writes its own key, and ` +
      'only the call itself is shared.',
  );
  return lines;
}

/** Each goal of the library with this run's figure, and the profile's split of the app's busy time. */
function goalsSection(
  http: HttpReport,
  decisions: DecisionSample[],
  memory: MemoryReport,
  profiles: ProfileResult[],
  guard: GuardSample[],
): string {
  const vs = (adapter: string, path: PathName) =>
    cell(http.samples, adapter, OURS[path], path).vsBare;
  const peer = (adapter: string, path: PathName) =>
    cell(http.samples, adapter, PEER[path], path).vsBare;
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'missed');
  const atLeast = (n: number, goal: number) => (Number.isFinite(n) ? n >= goal : undefined);
  const rows: Array<Array<string>> = [];
  for (const [adapter, allowedGoal, deniedGoal] of [
    ['express', 0.85, 0.9],
    ['fastify', 0.65, 0.75],
  ] as const) {
    const allowed = vs(adapter, 'allowed');
    const denied = vs(adapter, 'denied');
    rows.push([
      `${cap(adapter)} allowed (token bucket on Redis) ≥ ${allowedGoal} of bare`,
      fixed(allowed, 2),
      verdict(atLeast(allowed, allowedGoal)),
    ]);
    rows.push([
      `${cap(adapter)} denied ≥ ${deniedGoal} of bare`,
      fixed(denied, 2),
      verdict(atLeast(denied, deniedGoal)),
    ]);
  }
  for (const adapter of ADAPTERS) {
    const ratios = LIMITED_PATHS.map((path) => ({
      path,
      r: vs(adapter, path) / peer(adapter, path),
    }));
    rows.push([
      `${cap(adapter)}: every path ≥ 1.15× @nestjs/throttler on the same storage`,
      ratios.map(({ path, r }) => `${path} ${times(r)}`).join(', '),
      verdict(ratios.every(({ r }) => r >= 1.15)),
    ]);
    const log = vs(adapter, 'log') / vs(adapter, 'allowed');
    rows.push([
      `${cap(adapter)}: sliding log at 1e9 ≥ 0.8× the token bucket`,
      times(log),
      verdict(atLeast(log, 0.8)),
    ]);
  }
  const ceilingRatios: number[] = [];
  for (const algorithm of ALGORITHMS) {
    for (const limit of [...new Set(decisions.map((d) => d.limit))]) {
      const ours = decisionCell(decisions, 'redis', 'ours', algorithm, limit).perSec;
      const ceiling = decisionCell(decisions, 'redis', 'ceiling', 'token-bucket', limit).perSec;
      if (Number.isFinite(ours / ceiling)) ceilingRatios.push(ours / ceiling);
    }
  }
  const low = Math.min(...ceilingRatios);
  const high = Math.max(...ceilingRatios);
  rows.push([
    'raw decisions ≥ 0.9× the minimal `defineCommand` token bucket (every algorithm and limit)',
    `${times(low)}–${times(high)}`,
    verdict(ceilingRatios.length > 0 ? low >= 0.9 : undefined),
  ]);
  for (const store of ['redis', 'memory'] as const) {
    const one = decisionCell(decisions, store, 'ours', 'token-bucket', THREE_RULES_LIMIT);
    const three = decisionCell(decisions, store, 'ours-3', 'token-bucket', THREE_RULES_LIMIT);
    const time = one.perSec / three.perSec;
    const cpu = three.clientUs / one.clientUs;
    rows.push([
      `three rules ≤ 1.2× one (raw decisions, ${store}): time per decision; CPU of the asking process`,
      `${times(time)}; ${times(cpu)}`,
      verdict(Number.isFinite(time) ? time <= 1.2 : undefined),
    ]);
  }
  const keyed = memory.redis.filter(
    (r) => !r.error && r.keys > 1 && /^ours (?!sliding-window-log)/.test(r.label),
  );
  const most = Math.max(...keyed.map((r) => r.bytesPerKey));
  rows.push([
    'Redis memory per counter, bucket or GCRA key ≤ 150 bytes',
    keyed.length > 0 ? `${int(Math.min(...keyed.map((r) => r.bytesPerKey)))}–${int(most)}` : 'n/a',
    verdict(keyed.length > 0 ? most <= 150 : undefined),
  ]);
  for (const adapter of ADAPTERS) {
    // Against the allowed path's calls per request: both batch a turn's requests alike, so what
    // the denied path saves beyond that is the deny cache's.
    const denied = cell(http.samples, adapter, 'ours-redis', 'denied').scripts;
    const allowed = cell(http.samples, adapter, 'ours-redis', 'allowed').scripts;
    const drop = allowed > 0 ? 1 - denied / allowed : NaN;
    rows.push([
      `${cap(adapter)}: Redis calls per denied request under a flood drop ≥ 90% (deny cache)`,
      Number.isFinite(drop)
        ? `${fixed(denied, 3)} per request against ${fixed(allowed, 3)} on the allowed path: ${pct(drop)} fewer`
        : 'n/a',
      verdict(Number.isFinite(drop) ? drop >= 0.9 : undefined),
    ]);
  }
  const split = profiles
    .filter((p) => !p.error)
    .map((p) => {
      const share = (test: (origin: string) => boolean) =>
        p.byOrigin.filter((o) => test(o.origin)).reduce((n, o) => n + o.share, 0);
      const ours = share((o) => o.includes('this library'));
      const redis = share((o) => o === 'ioredis' || o === 'redis-parser' || o === 'opossum');
      const native = share((o) => o.startsWith('native'));
      const node = share((o) => o.startsWith('Node.js'));
      const metrics = share((o) => o === 'prom-client');
      const framework = 1 - ours - redis - native - node - metrics;
      return [
        `${cap(p.adapter)} ${p.path}`,
        pct(ours),
        pct(redis),
        pct(metrics),
        pct(native),
        pct(node),
        pct(framework),
      ];
    });
  const guardUs = guard.filter((g) => !g.error).map((g) => g.usPerRequest);
  const guardRange =
    guardUs.length > 0
      ? `${fixed(Math.min(...guardUs), 1)}–${fixed(Math.max(...guardUs), 1)} µs`
      : 'not measured';
  const why = whyMissed(http, decisions, profiles, guardRange);
  return [
    table(['goal', 'this run', ''], rows),
    '',
    'For scale: the guard floor (`bench/http/peer-apps.ts`) is a guard that sets the same five headers in one call and',
    `spends ${FLOOR_BUSY_US} µs of CPU, and decides nothing; ours' guard alone spent ${guardRange} per request in this run (section 5).`,
    'On this machine no limiter written as a guard that costs that much can do better than the floor: a ratio goal above',
    'it cannot be met here, whatever the library does.',
    '',
    "What this run's figures say about each kind of goal:",
    '',
    ...why,
    '',
    'Where the app spends its busy time on the profiled paths (section 4), by origin of the sampled frames: a goal the',
    "library's own frames cannot close is one whose gap lies in the other columns.",
    '',
    table(
      [
        'profile',
        'this library',
        'ioredis + opossum',
        'prom-client',
        'native (socket writes, GC)',
        'Node.js internals',
        'framework and the rest',
      ],
      split,
    ),
  ].join('\n');
}

export function renderProfileReport(run: RunInfo, profiles: ProfileResult[]): string {
  return [
    `# CPU profile ${run.startedAt.toISOString()}${run.config.quick ? ' (quick)' : ''}`,
    '',
    `The demo app (\`node --cpu-prof dist/apps/demo/main.js\`) on Redis, ${run.config.profile.durationS} s of \`/api/premium\` with`,
    '`X-API-Key: demo-pro` at limit 1e9, then as long at limit 1 (every request denied), loaded from a separate',
    'load-generator process. Compare these frames before and after a change; req/s under the profiler is slower than',
    'without it.',
    '',
    profileTables(profiles),
    '',
    environment(run, 'bench:profile'),
    '',
  ].join('\n');
}
