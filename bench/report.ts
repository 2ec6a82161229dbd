import type { BenchConfig } from './config.js';
import { RLF_MEMORY, RLF_REDIS, RLF_UNION, type DecisionResult, type DecisionsReport } from './decisions.js';
import { APP_LABELS, type HttpResult } from './http.js';
import type { MemoryResult } from './memory.js';
import type { MachineInfo } from './support/machine.js';

export interface RunInfo {
  startedAt: Date;
  finishedAt: Date;
  machine: MachineInfo;
  loadAtEnd: string;
  node: string;
  redis: string;
  revision: string;
  packages: Record<string, string>;
  benchScript: string;
  config: BenchConfig;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;

function table(header: string[], rows: Array<Array<string | number>>): string {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
}

function decisionTable(results: DecisionResult[]): string {
  const byName = new Map(results.map((r) => [r.name, r]));
  return table(
    ['case', 'decisions/s', 'p50 (µs)', 'p99 (µs)', 'denied', 'throughput vs peer', 'p99 vs peer', 'peer'],
    results.map((r) => {
      const peer = r.peer ? byName.get(r.peer) : undefined;
      if (r.error) return [r.name, 'failed', '', '', '', '', '', r.error];
      return [
        r.name,
        int(r.perSecond),
        int(r.p50Us),
        int(r.p99Us),
        int(r.denied),
        peer ? ratio(r.perSecond, peer.perSecond) : '',
        peer ? ratio(r.p99Us, peer.p99Us) : '',
        peer ? peer.name : '(peer)',
      ];
    }),
  );
}

const THROTTLER_PEER: Partial<Record<HttpResult['app'], HttpResult['app']>> = {
  'ours-memory': 'throttler-memory',
  'ours-redis': 'throttler-redis',
};

function httpTable(results: HttpResult[]): string {
  const find = (adapter: string, app: string) =>
    results.find((r) => r.adapter === adapter && r.app === app && !r.error);
  return table(
    [
      'adapter',
      'app',
      'req/s',
      'p50 (ms)',
      'p99 (ms)',
      'non-2xx / errors',
      'req/s vs bare',
      'req/s vs throttler peer',
      'p99 vs throttler peer',
    ],
    results.map((r) => {
      if (Number.isNaN(r.reqPerSec)) {
        return [r.adapter, APP_LABELS[r.app], 'failed', '', '', `**${r.error}**`, '', '', ''];
      }
      const bare = r.app === 'bare' ? undefined : find(r.adapter, 'bare');
      const peerApp = THROTTLER_PEER[r.app];
      const peer = peerApp ? find(r.adapter, peerApp) : undefined;
      return [
        r.adapter,
        APP_LABELS[r.app],
        int(r.reqPerSec),
        fixed(r.p50Ms, 0),
        fixed(r.p99Ms, 0),
        r.error ? `**${r.error}**` : `${r.non2xx} / ${r.errors}`,
        bare ? ratio(r.reqPerSec, bare.reqPerSec) : '',
        peer ? ratio(r.reqPerSec, peer.reqPerSec) : '',
        peer ? ratio(r.p99Ms, peer.p99Ms) : '',
      ];
    }),
  );
}

function memoryTable(results: MemoryResult[]): string {
  const rlf = results.find((r) => r.store === RLF_MEMORY && !r.error);
  return table(
    ['store', 'heap growth per 100k keys (MiB)', 'bytes per key', 'vs RateLimiterMemory'],
    results.map((r) =>
      r.error
        ? [r.store, 'failed', '', r.error]
        : [
            r.store,
            fixed(r.bytesPer100k / 2 ** 20, 2),
            int(r.bytesPerKey),
            r === rlf ? '(peer)' : rlf ? ratio(r.bytesPerKey, rlf.bytesPerKey) : '',
          ],
    ),
  );
}

const range = (ratios: number[]) =>
  ratios.length ? `${Math.min(...ratios).toFixed(2)}×–${Math.max(...ratios).toFixed(2)}×` : 'n/a';

/** A few lines a reader can quote; every one is a ratio from this run. */
function headlines(decisions: DecisionsReport, http: HttpResult[], memory: MemoryResult[]): string[] {
  const lines: string[] = [];
  const ok = <T extends { error?: string }>(r: T | undefined) => (r && !r.error ? r : undefined);

  const rlfRedis = ok(decisions.redis.find((r) => r.name === RLF_REDIS));
  const oursRedis = decisions.redis.filter((r) => r.peer === RLF_REDIS && !r.error);
  const oursFw = ok(decisions.redis.find((r) => r.name === 'ours RedisStore fixed-window'));
  if (rlfRedis && oursFw) {
    lines.push(
      `Redis decisions/s, ours ÷ rate-limiter-flexible: fixed-window ${ratio(oursFw.perSecond, rlfRedis.perSecond)}, ` +
        `range over the six algorithms ${range(oursRedis.map((r) => r.perSecond / rlfRedis.perSecond))}.`,
    );
  }
  const union = ok(decisions.redis.find((r) => r.name === RLF_UNION));
  const two = ok(decisions.redis.find((r) => r.peer === RLF_UNION));
  if (two && union) {
    lines.push(
      `Two rules per decision, ours (one script call) ÷ RateLimiterUnion (two calls): ` +
        `${ratio(two.perSecond, union.perSecond)} decisions/s.`,
    );
  }
  const rlfMemory = ok(decisions.memory.find((r) => r.name === RLF_MEMORY));
  const oursMemory = decisions.memory.filter((r) => r.peer === RLF_MEMORY && !r.error);
  const oursMemoryFw = ok(decisions.memory.find((r) => r.name === 'ours MemoryStore fixed-window'));
  if (rlfMemory && oursMemoryFw) {
    lines.push(
      `In-memory decisions/s, ours ÷ RateLimiterMemory: fixed-window ${ratio(oursMemoryFw.perSecond, rlfMemory.perSecond)}, ` +
        `range ${range(oursMemory.map((r) => r.perSecond / rlfMemory.perSecond))}.`,
    );
  }

  const req = (adapter: string, app: string) =>
    ok(http.find((r) => r.adapter === adapter && r.app === app))?.reqPerSec ?? NaN;
  const vs = (adapter: string, app: string, base: string) => ratio(req(adapter, app), req(adapter, base));
  lines.push(
    `HTTP (Express) req/s ÷ bare: ours memory ${vs('express', 'ours-memory', 'bare')}, ` +
      `ours Redis ${vs('express', 'ours-redis', 'bare')}, throttler memory ${vs('express', 'throttler-memory', 'bare')}, ` +
      `throttler + @nest-lab Redis ${vs('express', 'throttler-redis', 'bare')}.`,
  );
  lines.push(
    `HTTP (Express) req/s, ours ÷ throttler: memory ${vs('express', 'ours-memory', 'throttler-memory')} ` +
      `(${vs('express', 'ours-memory', 'throttler-memory-ttl1s')} against its 1 s ttl variant), ` +
      `Redis ${vs('express', 'ours-redis', 'throttler-redis')}.`,
  );
  if (http.some((r) => r.adapter === 'fastify')) {
    lines.push(
      `HTTP (Fastify) req/s ÷ bare: ours memory ${vs('fastify', 'ours-memory', 'bare')}, ` +
        `ours Redis ${vs('fastify', 'ours-redis', 'bare')}.`,
    );
  }

  const rlfHeap = ok(memory.find((r) => r.store === RLF_MEMORY));
  const fwHeap = ok(memory.find((r) => r.store === 'ours MemoryStore fixed-window'));
  if (rlfHeap && fwHeap) {
    const ours = memory
      .filter((r) => r !== rlfHeap && !r.error)
      .map((r) => r.bytesPerKey / rlfHeap.bytesPerKey);
    lines.push(
      `Heap per key, ours ÷ RateLimiterMemory: fixed-window ${ratio(fwHeap.bytesPerKey, rlfHeap.bytesPerKey)}, ` +
        `range ${range(ours)} (below 1×: ours is smaller).`,
    );
  }
  for (const r of http.filter((h) => h.error)) {
    lines.push(`Problem: ${r.adapter} ${APP_LABELS[r.app]}: ${r.error}.`);
  }
  for (const r of [...decisions.redis, ...decisions.memory].filter((d) => d.error)) {
    lines.push(`Problem: ${r.name}: ${r.error}.`);
  }
  for (const r of memory.filter((m) => m.error)) lines.push(`Problem: memory of ${r.store}: ${r.error}.`);
  return lines;
}

export function renderReport(
  run: RunInfo,
  decisions: DecisionsReport,
  http: HttpResult[],
  memory: MemoryResult[],
): string {
  const { config, machine } = run;
  const d = config.decisions;
  const h = config.http;
  const seconds = Math.round((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000);
  const title = `Benchmark run ${run.startedAt.toISOString()}`;
  const quick = config.quick ? ' (QUICK: development only, not for comparison)' : '';
  const warmup = h.warmupS > 0 ? ` after a ${h.warmupS} s warm-up` : '';
  const nestLabRun = http.find((r) => r.app === 'throttler-redis');
  const nestLab = !nestLabRun
    ? 'It was not run.'
    : nestLabRun.error
      ? `On Nest ${run.packages['@nestjs/core']} it failed here: ${nestLabRun.error}.`
      : `It booted, wrote to Redis and answered every request with 2xx in this run.`;
  return `# ${title}${quick}

Every figure below that matters is a ratio between contenders measured in this run, on this
machine, one after the other. Absolute numbers are context: the machine is shared and noisy.
Nothing here is a pass/fail threshold.

## Headlines

${headlines(decisions, http, memory)
  .map((l) => `- ${l}`)
  .join('\n')}

## Machine

| | |
| --- | --- |
| CPU | ${machine.cpu} |
| cores | ${machine.cores} |
| memory | ${machine.memoryGiB} GiB |
| OS | ${machine.os} |
| load average (1/5/15 min) at start | ${machine.loadAvg} |
| load average at end | ${run.loadAtEnd} |
| run took | ${seconds} s |

## Versions

| | |
| --- | --- |
| Node.js | ${run.node} |
| redis-server | ${run.redis} |
| this repository | ${run.revision} |
${Object.entries(run.packages)
  .map(([name, version]) => `| ${name} | ${version} |`)
  .join('\n')}

## Commands

\`\`\`sh
${config.quick ? 'BENCH_QUICK=1 ' : ''}npm run bench
# which runs: ${run.benchScript}
\`\`\`

- Redis: \`redis-server --port <free port> --bind 127.0.0.1 --save '' --appendonly no\`, started and stopped by the run; \`FLUSHDB\` before every case.
- Raw decisions: in the bench process, ${d.concurrency} decisions in flight, ${int(d.keySpread)} distinct keys taken round-robin,
  limit ${int(d.limit)} per ${d.windowMs / 1000} s per key (nothing is denied), ${d.rounds} rounds per case in alternating order
  (${d.redisRoundMs} ms per round on Redis, ${d.memoryRoundMs} ms in memory) after a ${d.warmupMs} ms warm-up. One ioredis client
  (default options) per contender.
- HTTP: each app in its own process (\`node dist/bench/http/server.js <app> <adapter>\`), loaded from the bench process with
  autocannon's API, equivalent to \`autocannon -c ${h.connections} -d ${h.durationS} -p 1 http://127.0.0.1:<port>/ping\`${warmup}.
  Limits of 1,000,000,000 per 60 s: nothing is denied, only the overhead is measured.
- Memory: one process per store, \`node --expose-gc dist/bench/memory/probe.js <store> ${config.memory.keys}\`: heap used after
  forced GC, before and after one decision on each of ${int(config.memory.keys)} distinct keys.

## 1. Raw decisions

Throughput ratio: ours ÷ peer (above 1: ours decides more per second). p99 ratio: ours ÷ peer (below 1: ours is faster).
Latencies include the wait behind the other ${d.concurrency - 1} decisions in flight. In memory a decision takes
microseconds, so its percentiles mostly show queueing and GC pauses: read the throughput ratio there.

### On Redis

${decisionTable(decisions.redis)}

### In memory

${decisionTable(decisions.memory)}

## 2. HTTP overhead

\`GET /ping\` answering \`{"ok":true}\`; ratios against the bare app on the same adapter and against the
\`@nestjs/throttler\` setup with the same kind of storage and the same 60 s window. autocannon reports
latencies in whole milliseconds.

${httpTable(http)}

## 3. Memory per key

${memoryTable(memory)}

## What differs between contenders

- \`RateLimiterRedis\` runs a short fixed-window script (\`SET NX\`, \`INCRBY\`, \`PTTL\`) through \`EVALSHA\`. Ours runs one
  script for every algorithm that reads the clock from Redis \`TIME\` and decides all rules of a request together.
- \`RateLimiterUnion\` calls each limiter separately (two round trips, no all-or-nothing); ours decides both rules in one
  script call and charges both or neither.
- \`@nest-lab/throttler-storage-redis\` ${run.packages['@nest-lab/throttler-storage-redis']} declares peer dependencies up to Nest 11; this
  repository overrides them for Nest ${run.packages['@nestjs/core']}. ${nestLab}
  It sends its whole script with \`EVAL\` on every request.
- \`@nestjs/throttler\` ${run.packages['@nestjs/throttler']}'s in-memory storage keeps one expiry time per hit within the ttl and filters that
  list on every request. With one hot key and a 60 s ttl its cost grows with the hits so far, so its figure depends on
  how long the case runs; the 1 s ttl row bounds the list to about one second of hits.
- In the HTTP cases every request comes from 127.0.0.1, so every limiter works on one hot key.
- The load generator, the app and redis-server share the same ${machine.cores} cores.
`;
}
