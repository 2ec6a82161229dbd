import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { BenchConfig } from './config.js';
import { ADAPTERS, loadJob, startContender } from './http.js';
import type { AdapterName } from './http/app-process.js';
import { LoadGenerator } from './http/load.js';

export type ProfiledPath = 'allowed' | 'denied';

/** One row of the summary: a function, where it is, and its share of the busy samples. */
export interface ProfileFrame {
  functionName: string;
  location: string;
  selfMs: number;
  /** Share of the non-idle sampled time. */
  share: number;
}

export interface ProfileResult {
  adapter: AdapterName;
  /** `allowed`: token bucket on Redis at limit 1e9; `denied`: the same route at limit 1 (429s). */
  path: ProfiledPath;
  /** Relative to the repository root. */
  file?: string;
  reqPerSec: number;
  sampledMs: number;
  idleShare: number;
  top: ProfileFrame[];
  /** Self time by where the code comes from: a package, this library, Node's own, or native. */
  byOrigin: Array<{ origin: string; share: number }>;
  error?: string;
}

/** `node_modules/@nestjs/core/x.js` -> `@nestjs/core`; the library; `node:` internals; native frames. */
function origin(location: string): string {
  const nm = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (nm) return nm[1];
  if (location.startsWith('libs/rate-limit/')) return '@app/rate-limit (this library)';
  if (location.startsWith('dist/apps/')) return 'the demo app';
  if (location.startsWith('node:')) return 'Node.js (JavaScript internals)';
  return location ? location : 'native (GC, socket writes, VM)';
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  /** µs on the system's monotonic clock, as `process.hrtime` reads it. */
  startTime: number;
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `file:///.../node_modules/x/y.js` -> `node_modules/x/y.js`; the repository's own files relative to it. */
function shortUrl(url: string, root: string): string {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + 1);
  if (path.startsWith(root)) return path.slice(root.length);
  return path;
}

/**
 * Self time per function from a `.cpuprofile`, over the samples taken within `window` (µs on the
 * monotonic clock: the measured load, not the boot): each sample's time (the delta to the next
 * sample) goes to the node it hit; nodes are merged by function name and script, plus the line
 * for anonymous functions, which would otherwise merge every closure of a file.
 */
export function summarizeProfile(
  profile: CpuProfile,
  root: string,
  window: [number, number],
  count = 15,
) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, ProfileFrame>();
  let total = 0;
  let idle = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    if (at < window[0] || at > window[1]) continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const frame = byId.get(profile.samples[i])!.callFrame;
    total += ms;
    if (frame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const name = frame.functionName || '(anonymous)';
    const location = frame.url ? shortUrl(frame.url, root) : '';
    const shown =
      name === '(anonymous)' && location ? `${location}:${frame.lineNumber + 1}` : location;
    const key = `${name}\u0000${shown}`;
    const entry = self.get(key) ?? { functionName: name, location: shown, selfMs: 0, share: 0 };
    entry.selfMs += ms;
    self.set(key, entry);
  }
  const busy = total - idle;
  const origins = new Map<string, number>();
  for (const f of self.values()) {
    const o = origin(f.location.replace(/:\d+$/, ''));
    origins.set(o, (origins.get(o) ?? 0) + f.selfMs);
  }
  const byOrigin = [...origins.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([o, ms]) => ({ origin: o, share: busy > 0 ? ms / busy : NaN }));
  const top = [...self.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, count)
    .map((f) => ({ ...f, share: busy > 0 ? f.selfMs / busy : NaN }));
  return { sampledMs: total, idleShare: total > 0 ? idle / total : NaN, top, byOrigin };
}

/**
 * The demo app under `node --cpu-prof` for each adapter, loaded from the separate load generator
 * on the allowed path (token bucket on Redis, one key, limit 1e9), then on the same route at limit
 * 1 (every request denied); the profile is written when the app exits on SIGTERM, and each path
 * is summarized over its measured load only (after a warm-up).
 */
export async function profileAllowedPath(
  redisUrl: string,
  admin: Redis,
  config: BenchConfig,
  dir: string,
  root: string,
  log: (line: string) => void,
): Promise<ProfileResult[]> {
  const generator = LoadGenerator.start();
  const results: ProfileResult[] = [];
  log(
    `profile: the demo app under --cpu-prof, allowed then denied path, ${config.profile.durationS} s each per adapter`,
  );
  try {
    for (const adapter of ADAPTERS) {
      const out = join(dir, adapter);
      mkdirSync(out, { recursive: true });
      const base = (path: ProfiledPath): ProfileResult => ({
        adapter,
        path,
        reqPerSec: NaN,
        sampledMs: NaN,
        idleShare: NaN,
        top: [],
        byOrigin: [],
      });
      try {
        await admin.flushdb();
        const app = await startContender('ours-redis', adapter, redisUrl, config, [
          '--cpu-prof',
          `--cpu-prof-dir=${out}`,
        ]);
        const nowUs = () => Number(process.hrtime.bigint() / 1000n);
        // One process, two windows of the same profile: the allowed path, then every request denied.
        const measured: Array<{ path: ProfiledPath; window: [number, number]; reqPerSec: number }> =
          [];
        try {
          for (const path of ['allowed', 'denied'] as const) {
            await app.configure(path === 'allowed' ? { premium: 1_000_000_000 } : { premium: 1 });
            await generator.run(loadJob(app, path, config.http.startWarmupS, config));
            const start = nowUs();
            const r = await generator.run(loadJob(app, path, config.profile.durationS, config));
            measured.push({ path, window: [start, nowUs()], reqPerSec: r.requests / r.durationS });
          }
        } finally {
          await app.stop();
        }
        const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
        if (files.length === 0) throw new Error('the app wrote no .cpuprofile on exit');
        const file = join(out, files.sort().at(-1)!);
        const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
        for (const { path, window, reqPerSec } of measured) {
          const summary = summarizeProfile(profile, root, window);
          results.push({ ...base(path), ...summary, reqPerSec, file: file.slice(root.length) });
          const head = summary.top
            .slice(0, 3)
            .map((f) => `${f.functionName} ${(f.share * 100).toFixed(1)}%`)
            .join(', ');
          log(
            `  ${adapter} ${path}: ${Math.round(reqPerSec)} req/s under the profiler; top: ${head}`,
          );
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        results.push({ ...base('allowed'), error: message });
        log(`  ${adapter}: FAILED ${message}`);
      }
    }
  } finally {
    await generator.stop();
  }
  return results;
}
