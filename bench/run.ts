/**
 * `npm run bench [-- --quick]`: HTTP paths of the demo against its peers, raw decisions per
 * algorithm and limit, memory per key, the guard's CPU per request and a CPU profile of the allowed path. Writes
 * bench/results/<date>-<time>.md and latest.md (`--quick`: bench/results/quick.tmp).
 * `npm run bench:profile` (`--profile`): only the profile, to bench/results/profile-latest.md.
 * Never fails on speed; fails only when it cannot run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig } from './config.js';
import { benchDecisions } from './decisions.js';
import { benchGuard } from './guard.js';
import { benchHttp } from './http.js';
import { benchMemory } from './memory.js';
import { profileAllowedPath } from './profile.js';
import { renderProfileReport, renderReport, type RunInfo } from './report.js';
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
const argv = process.argv.slice(2);
const config = loadConfig(argv);
const profileOnly = argv.includes('--profile');
const log = (line: string) => console.log(line);

const startedAt = new Date();
// UTC minutes, so two runs on one day do not overwrite each other.
const stamp = startedAt.toISOString().slice(0, 16).replace('T', '-').replace(':', '');
const machine = machineInfo();
// Read before the run: edits made while it runs are not what was measured.
const revision = gitRevision(root);
log(
  `bench${config.quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAvg}`,
);

const redis = await BenchRedis.start();
const admin = new Redis(redis.url);
const resultsDir = join(root, 'bench/results');
const profileDir = join(resultsDir, 'profiles', stamp);
let report: string;
try {
  const info = await admin.info('server');
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const run = (): RunInfo => ({
    startedAt,
    finishedAt: new Date(),
    machine,
    loadAtEnd: currentLoad(),
    node: process.version,
    redis: /^redis_version:(.+)$/m.exec(info)?.[1].trim() ?? 'unknown',
    revision,
    packages: packageVersions(root, PACKAGES),
    scripts: manifest.scripts,
    argv,
    config,
  });
  if (profileOnly) {
    const profile = await profileAllowedPath(redis.url, admin, config, profileDir, root, log);
    report = renderProfileReport(run(), profile);
  } else {
    const http = await benchHttp(redis.url, admin, config, log);
    const decisions = await benchDecisions(redis.url, admin, config, log);
    const memory = await benchMemory(redis.url, config, log);
    const guard = await benchGuard(redis.url, config, log);
    const profile = await profileAllowedPath(redis.url, admin, config, profileDir, root, log);
    report = renderReport(run(), http, decisions, memory, profile, guard);
  }
} finally {
  admin.disconnect();
  await redis.stop();
}

mkdirSync(resultsDir, { recursive: true });
const written = config.quick
  ? [profileOnly ? 'profile-quick.tmp' : 'quick.tmp']
  : profileOnly
    ? [`profile-${stamp}.md`, 'profile-latest.md']
    : [`${stamp}.md`, 'latest.md'];
for (const name of written) writeFileSync(join(resultsDir, name), report);
log(
  `wrote ${written.map((n) => `bench/results/${n}`).join(' and ')} (${Math.round((Date.now() - startedAt.getTime()) / 1000)} s)`,
);
