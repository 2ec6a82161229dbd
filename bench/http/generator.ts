/**
 * The load generator, in its own process so that it shares no event loop with the app it loads.
 * Forked by the HTTP benchmark; takes one job at a time over IPC and answers with autocannon's
 * figures and the CPU this process used meanwhile, which tells whether it was the bottleneck.
 */
import autocannon, { type Options, type RequestParams } from 'autocannon';

export interface LoadJob {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
  /** Many-keys runs: this header takes each value in turn, one per request. */
  rotate?: { header: string; values: string[] };
}

export interface LoadResult {
  requests: number;
  durationS: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Responses by status class, e.g. `{ "2xx": 100, "4xx": 3 }`. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** CPU seconds this process used during the run, over its wall seconds (1 = one core). */
  cpuShare: number;
}

function options(job: LoadJob): Options {
  const base: Options = {
    url: job.url,
    connections: job.connections,
    duration: job.durationS,
    pipelining: 1,
    headers: job.headers,
  };
  if (!job.rotate) return base;
  const { header, values } = job.rotate;
  let next = 0;
  const setupRequest = (request: RequestParams): RequestParams => {
    request.headers = { ...request.headers, [header]: values[next] };
    next = next + 1 === values.length ? 0 : next + 1;
    return request;
  };
  return { ...base, requests: [{ setupRequest }] };
}

async function run(job: LoadJob): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await autocannon(options(job));
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const statuses: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) {
    const klass = `${code[0]}xx`;
    statuses[klass] = (statuses[klass] ?? 0) + count;
  }
  return {
    requests: r.requests.total,
    durationS: r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    statuses,
    errors: r.errors,
    timeouts: r.timeouts,
    cpuShare: (cpu.user + cpu.system) / 1e6 / wallS,
  };
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send!({ result }),
    (error: unknown) =>
      process.send!({ error: error instanceof Error ? error.message : String(error) }),
  );
});
