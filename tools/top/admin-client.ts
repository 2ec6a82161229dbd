/** What the status view reads from an app's admin API (`GET /admin/rules` and `GET /admin/stats`). */

export interface RuleInfo {
  name: string;
  algorithm: string;
  limit: number;
  windowMs: number;
  mode: 'enforce' | 'dry-run';
  source: 'static' | 'override';
  tiers?: Record<string, number | 'exempt'>;
}

export interface RuleCounts {
  allowed: number;
  denied: number;
  dryRunDenied: number;
  /** Absent from apps older than the tracker of throttled callers. */
  topKeys?: { key: string; denied: number }[];
}

export interface Stats {
  rules: Record<string, RuleCounts>;
  store: { mode: 'redis' | 'memory'; breaker: 'closed' | 'open' | 'half-open' };
  config: 'redis' | 'local';
}

/** One reading of the app, with the time it was taken (ms, monotonic). */
export interface Snapshot {
  at: number;
  rules: RuleInfo[];
  stats: Stats;
}

/** Why the app could not be read; `message` is the one line shown to the operator. */
export class AdminError extends Error {
  constructor(
    readonly kind: 'unauthorized' | 'unreachable' | 'not-found' | 'bad-response',
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

const TIMEOUT_MS = 2_000;

export class AdminClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  async snapshot(): Promise<Snapshot> {
    const [rules, stats] = await Promise.all([
      this.get<RuleInfo[]>('/admin/rules'),
      this.get<Stats>('/admin/stats'),
    ]);
    return { at: performance.now(), rules, stats };
  }

  private async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.url), {
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new AdminError('unreachable', `cannot reach ${this.url}: ${reason(error)}`);
    }
    if (res.status === 401) {
      await res.body?.cancel();
      const given = this.token === '' ? 'no admin token given' : 'wrong admin token';
      throw new AdminError(
        'unauthorized',
        `${this.url} answered 401 Unauthorized: ${given} (--token or ADMIN_TOKEN)`,
      );
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new AdminError(
        'not-found',
        `${this.url} has no admin API at ${path} (404): is ADMIN_TOKEN set on the app?`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AdminError('bad-response', `${this.url}${path} answered ${res.status}`);
    }
    try {
      return (await res.json()) as T;
    } catch {
      throw new AdminError('bad-response', `${this.url}${path} did not answer JSON`);
    }
  }
}

/** The deepest cause of a failed fetch: `ECONNREFUSED 127.0.0.1:1` says more than `fetch failed`. */
function reason(error: unknown): string {
  let current = error as { message?: string; cause?: unknown; name?: string };
  while (current?.cause) current = current.cause as typeof current;
  if (current?.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS} ms`;
  return current?.message ?? String(error);
}
