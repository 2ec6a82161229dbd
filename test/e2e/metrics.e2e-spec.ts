import { ADAPTERS, startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

const TOKEN = 'metrics-admin-token';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

/** Parses the Prometheus text format (0.0.4) strictly: any line that is not a comment or a sample fails the test. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (/^# HELP \S+ /.test(line)) continue;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = sample[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body);
      if (!label) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[label[1]] = label[2];
    }
    // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
    const special = /^(?:([+-]?)inf|nan)$/i.exec(sample[3]);
    const infinity = special?.[1] === '-' ? -Infinity : Infinity;
    const value = special ? (special[1] === undefined ? NaN : infinity) : Number(sample[3]);
    if (!special && Number.isNaN(value)) throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.push({ name: sample[1], labels, value });
  }
  return { types, samples };
}

const valueOf = (exposition: Exposition, name: string, labels: Record<string, string> = {}) =>
  exposition.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;

async function send(
  url: string,
  count: number,
  path: string,
  init: RequestInit = {},
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}${path}`, init);
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

const admin = (url: string, method: string, path: string, body?: unknown) =>
  fetch(`${url}/admin${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe.each(ADAPTERS)('GET /metrics on %s', (adapter) => {
  let server: RedisServer;
  let demo: RunningApp;

  beforeAll(async () => {
    server = await RedisServer.start();
    demo = await startDemo(
      { HTTP_ADAPTER: adapter, REDIS_URL: server.url, ADMIN_TOKEN: TOKEN, TRUST_PROXY: 'true' },
      { keyPrefix: uniquePrefix(`metrics-${adapter}`) },
    );
  });
  afterAll(async () => {
    await demo?.close();
    await server?.stop();
  });

  const scrape = async () => {
    const res = await fetch(`${demo.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8/);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    const text = await res.text();
    return { text, exposition: parseExposition(text) };
  };

  it('serves the series the README lists under Metrics and the process metrics, every rule starting at 0', async () => {
    const { exposition } = await scrape();
    expect(exposition.types.get('rate_limit_decisions_total')).toBe('counter');
    expect(exposition.types.get('rate_limit_decision_duration_seconds')).toBe('histogram');
    expect(exposition.types.get('rate_limit_store_errors_total')).toBe('counter');
    expect(exposition.types.get('rate_limit_breaker_state')).toBe('gauge');
    expect(exposition.types.get('rate_limit_fallback_decisions_total')).toBe('counter');
    expect(exposition.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(exposition.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    for (const rule of ['public', 'premium', 'writes', 'writes-burst']) {
      for (const outcome of ['allowed', 'denied', 'dry_run_denied', 'bypassed', 'blocked']) {
        const value = valueOf(exposition, 'rate_limit_decisions_total', { rule, outcome });
        expect({ rule, outcome, value }).toEqual({ rule, outcome, value: 0 });
      }
    }
    expect(valueOf(exposition, 'rate_limit_breaker_state')).toBe(0);
    expect(valueOf(exposition, 'rate_limit_fallback_decisions_total')).toBe(0);
  });

  it('counts exactly the traffic sent, per rule and outcome', async () => {
    const client = '203.0.113.5';
    const blocked = '203.0.113.66';
    expect(
      await send(demo.url, 12, '/api/public', { headers: { 'X-Forwarded-For': client } }),
    ).toEqual([...Array(10).fill(200), 429, 429]);
    expect((await admin(demo.url, 'PUT', `/lists/block/${blocked}`)).status).toBe(200);
    expect(
      await send(demo.url, 2, '/api/public', { headers: { 'X-Forwarded-For': blocked } }),
    ).toEqual([403, 403]);
    expect(
      await send(demo.url, 3, '/api/premium', { headers: { 'X-API-Key': 'demo-enterprise' } }),
    ).toEqual([200, 200, 200]);
    expect(
      (await admin(demo.url, 'PATCH', '/rules/premium', { mode: 'dry-run', limit: 2 })).status,
    ).toBe(200);
    expect(
      await send(demo.url, 4, '/api/premium', { headers: { 'X-API-Key': 'demo-free' } }),
    ).toEqual([200, 200, 200, 200]);
    const writes = { method: 'POST', headers: { 'X-API-Key': `writer-${adapter}` } };
    expect(await send(demo.url, 7, '/api/data', writes)).toEqual([
      201, 201, 201, 201, 201, 429, 429,
    ]);

    const { text, exposition } = await scrape();
    const decisions = (rule: string) =>
      Object.fromEntries(
        exposition.samples
          .filter(
            (s) => s.name === 'rate_limit_decisions_total' && s.labels.rule === rule && s.value > 0,
          )
          .map((s) => [s.labels.outcome, s.value]),
      );
    expect(decisions('public')).toEqual({ allowed: 10, denied: 2, blocked: 2 });
    expect(decisions('premium')).toEqual({ bypassed: 3, allowed: 2, dry_run_denied: 2 });
    // The two denied writes were denied by writes-burst; writes neither admitted nor denied them.
    expect(decisions('writes')).toEqual({ allowed: 5 });
    expect(decisions('writes-burst')).toEqual({ allowed: 5, denied: 2 });
    // One store call per decided request: 12 public, 4 premium (free), 7 writes; none for bypassed or blocked.
    expect(
      valueOf(exposition, 'rate_limit_decision_duration_seconds_count', { store: 'redis' }),
    ).toBe(23);
    expect(
      valueOf(exposition, 'rate_limit_decision_duration_seconds_bucket', {
        store: 'redis',
        le: '+Inf',
      }),
    ).toBe(23);
    expect(valueOf(exposition, 'rate_limit_store_errors_total', { store: 'redis' }) ?? 0).toBe(0);
    expect(valueOf(exposition, 'rate_limit_breaker_state')).toBe(0);

    // Bounded cardinality: labels name rules, outcomes and stores, never callers.
    const rules = new Set(
      exposition.samples
        .filter((s) => s.name.startsWith('rate_limit_decisions'))
        .map((s) => s.labels.rule),
    );
    const names = (
      (await (await admin(demo.url, 'GET', '/rules')).json()) as Array<{ name: string }>
    ).map((r) => r.name);
    expect([...rules].sort()).toEqual(names.sort());
    for (const secret of [client, blocked, 'demo-free', 'demo-enterprise', `writer-${adapter}`])
      expect(text).not.toContain(secret);
  });

  it('agrees with the admin stats of the instance', async () => {
    const stats = (await (await admin(demo.url, 'GET', '/stats')).json()) as {
      rules: Record<string, { allowed: number; denied: number; dryRunDenied: number }>;
    };
    // topKeys: the one caller throttled (or, in dry-run, who would have been), as a hash.
    const caller = (denied: number) => [{ key: expect.stringMatching(/^[0-9a-f]{16}$/), denied }];
    expect(stats.rules.public).toEqual({
      allowed: 10,
      denied: 2,
      dryRunDenied: 0,
      topKeys: caller(2),
    });
    expect(stats.rules.premium).toEqual({
      allowed: 2,
      denied: 0,
      dryRunDenied: 2,
      topKeys: caller(2),
    });
  });
});
