import { fileURLToPath } from 'node:url';
import type { BenchConfig } from './config.js';
import { runProbe } from './support/probe.js';

/** The guard's CPU per request on one store and path, measured without HTTP. */
export interface GuardSample {
  store: 'memory' | 'redis';
  mode: 'allowed' | 'denied';
  usPerRequest: number;
  requests: number;
  error?: string;
}

const PROBE = fileURLToPath(new URL('./guard/probe.js', import.meta.url));

function probe(
  target: string,
  mode: GuardSample['mode'],
  ms: number,
): Promise<{ usPerRequest?: number; requests?: number; denied?: number; error?: string }> {
  return runProbe(PROBE, [target, mode, String(ms)]);
}

/**
 * `RateLimitGuard.canActivate` alone, each case in a fresh process: what deciding costs before
 * any socket is written, the figure the guard floor of the HTTP section is set to.
 */
export async function benchGuard(
  redisUrl: string,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<GuardSample[]> {
  const samples: GuardSample[] = [];
  for (const store of ['memory', 'redis'] as const) {
    for (const mode of ['allowed', 'denied'] as const) {
      const r = await probe(store === 'redis' ? redisUrl : 'memory', mode, config.guard.durationMs);
      let error = r.error;
      // Every measured request must have had the answer the case is about.
      if (!error && r.requests !== undefined) {
        const expected = mode === 'denied' ? r.requests : 0;
        if (r.denied !== expected) error = `${r.denied} of ${r.requests} denied`;
      }
      const sample = {
        store,
        mode,
        usPerRequest: r.usPerRequest ?? NaN,
        requests: r.requests ?? 0,
        error,
      };
      samples.push(sample);
      log(
        `  guard ${store} ${mode}: ${error ? `FAILED ${error}` : `${sample.usPerRequest.toFixed(2)} µs CPU per request`}`,
      );
    }
  }
  return samples;
}
