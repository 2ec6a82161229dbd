import { percentile, SteadyLoad, type Sample } from './load.js';

/** Fires `count` requests at once, round-robin over the instances; returns the status codes. */
export async function burst(
  urls: string[],
  path: string,
  count: number,
  init: RequestInit = {},
): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      fetch(`${urls[i % urls.length]}${path}`, init).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      }),
    ),
  );
}

/** Status code -> how many. */
export const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

/** `rate_limit_fallback_decisions_total` as the instance's `/metrics` reports it. */
export async function fallbackDecisions(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^rate_limit_fallback_decisions_total (\d+)/m.exec(text);
  if (!match) throw new Error('rate_limit_fallback_decisions_total missing from /metrics');
  return Number(match[1]);
}

/** The `rate_limit` indicator of `/health`. */
export async function healthOf(url: string): Promise<unknown> {
  const body = (await (await fetch(`${url}/health`)).json()) as {
    details: Record<string, unknown>;
  };
  return body.details.rate_limit;
}

/** What a load saw between `from` and `to` (ms since it started). */
export function summary(samples: Sample[], from = 0, to = Infinity) {
  const after = samples.filter((s) => s.at >= from && s.at < to);
  const latencies = after.map((s) => s.latencyMs);
  return {
    requests: after.length,
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    statuses: tally(after.map((s) => s.status)),
  };
}

/** One open-loop load per instance, on the same path as the same client. */
export class LoadGroup {
  private readonly loads: SteadyLoad[];

  constructor(urls: string[], path: string, init: RequestInit = {}, everyMs = 30) {
    this.loads = urls.map((url) => new SteadyLoad(`${url}${path}`, init, everyMs));
  }

  /** ms since the loads started. */
  now(): number {
    return this.loads[0].now();
  }

  async stop(): Promise<Sample[]> {
    return (await Promise.all(this.loads.map((load) => load.stop()))).flat();
  }
}

/**
 * The longest answer a fault may cause in these tests: the contract's 250 ms plus a margin for the
 * machine, the larger of 250 ms and the slowest answer the same load got before the fault. On two
 * cores shared by several test runs, answers take a few hundred ms with no fault at all; a fault
 * the limiter did not absorb costs a command timeout (1 s) or a connect timeout (2 s), far above.
 */
export function answerBound(baseline: Sample[], contractMs = 250): number {
  return contractMs + Math.max(250, ...baseline.map((s) => s.latencyMs));
}
