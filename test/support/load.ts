import { performance } from 'node:perf_hooks';

export interface Sample {
  /** ms since the load started. */
  at: number;
  latencyMs: number;
  /** HTTP status, or 0 when the request itself failed. */
  status: number;
}

/**
 * Fires one request every `everyMs` without waiting for answers (an open-loop load, so a slow
 * answer cannot slow the load down and hide itself), recording when each started, how long it
 * took and its status.
 */
export class SteadyLoad {
  readonly samples: Sample[] = [];
  private readonly started = performance.now();
  private readonly pending = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly init: RequestInit = {},
    everyMs = 20,
  ) {
    this.timer = setInterval(() => this.fire(), everyMs);
  }

  /** ms since the load started: a mark to select samples by. */
  now(): number {
    return performance.now() - this.started;
  }

  async stop(): Promise<Sample[]> {
    clearInterval(this.timer);
    await Promise.all(this.pending);
    return this.samples;
  }

  private fire(): void {
    const at = this.now();
    const request = fetch(this.url, this.init)
      .then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      })
      .catch(() => 0)
      .then((status) => {
        this.samples.push({ at, latencyMs: this.now() - at, status });
        this.pending.delete(request);
      });
    this.pending.add(request);
  }
}

/** The p-th percentile (nearest rank) of the values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Polls `condition` every `everyMs` until it holds; returns the ms it took, or throws after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - started;
    if (performance.now() - started > timeoutMs)
      throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
