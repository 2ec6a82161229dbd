/**
 * `npm run bench`: raw decisions, HTTP overhead and memory per key, each against its peers in
 * this run. Writes bench/results/<date>.md and bench/results/latest.md (quick runs:
 * bench/results/quick.tmp, ignored by git). Never fails on speed; fails only when it cannot run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig } from './config.js';
import { benchDecisions } from './decisions.js';
import { benchHttp } from './http.js';
import { benchMemory } from './memory.js';
import { renderReport } from './report.js';
import { currentLoad, gitRevision, machineInfo, packageVersions } from './support/machine.js';
import { BenchRedis } from './support/redis-server.js';

const PACKAGES = [
  '@app/rate-limit',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  '@nestjs/throttler',
  '@nest-lab/throttler-storage-redis',
  'rate-limiter-flexible',
  'ioredis',
  'express',
  'fastify',
  'autocannon',
];

const root = fileURLToPath(new URL('../../', import.meta.url));
const config = loadConfig();
const log = (line: string) => console.log(line);

async function redisVersion(url: string): Promise<string> {
  const client = new Redis(url);
  try {
    const info = await client.info('server');
    return /^redis_version:(.+)$/m.exec(info)?.[1].trim() ?? 'unknown';
  } finally {
    client.disconnect();
  }
}

const startedAt = new Date();
const machine = machineInfo();
log(`bench${config.quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAvg}`);

const redis = await BenchRedis.start();
let report: string;
try {
  const redisVer = await redisVersion(redis.url);
  const decisions = await benchDecisions(redis.url, config, log);
  const http = await benchHttp(redis.url, config, log);
  const memory = await benchMemory(config, log);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  report = renderReport(
    {
      startedAt,
      finishedAt: new Date(),
      machine,
      loadAtEnd: currentLoad(),
      node: process.version,
      redis: redisVer,
      revision: gitRevision(root),
      packages: packageVersions(root, PACKAGES),
      benchScript: manifest.scripts.bench ?? '',
      config,
    },
    decisions,
    http,
    memory,
  );
} finally {
  await redis.stop();
}

const dir = join(root, 'bench/results');
mkdirSync(dir, { recursive: true });
if (config.quick) {
  writeFileSync(join(dir, 'quick.tmp'), report);
  log(`wrote ${join('bench/results', 'quick.tmp')}`);
} else {
  // UTC minutes, so two runs on one day do not overwrite each other.
  const stamp = startedAt.toISOString().slice(0, 16).replace('T', '-').replace(':', '');
  writeFileSync(join(dir, `${stamp}.md`), report);
  writeFileSync(join(dir, 'latest.md'), report);
  log(`wrote bench/results/${stamp}.md and bench/results/latest.md`);
}
