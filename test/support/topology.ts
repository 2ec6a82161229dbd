import { percentile, type Sample } from './load.js';

/** Fires `count` requests at once, round-robin over the instances; returns the status codes. */
export async function burst(urls: string[], path: string, count: number, init: RequestInit = {}): Promise<number[]> {
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
  const body = (await (await fetch(`${url}/health`)).json()) as { details: Record<string, unknown> };
  return body.details.rate_limit;
}

/** What a load saw from `from` (ms since it started) on. */
export function summary(samples: Sample[], from = 0) {
  const after = samples.filter((s) => s.at >= from);
  const latencies = after.map((s) => s.latencyMs);
  return {
    requests: after.length,
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    statuses: tally(after.map((s) => s.status)),
  };
}
