import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BreakerState, RateLimitStatusService, type RedisStore } from '@app/rate-limit';
import { startDemo, uniquePrefix, type Adapter, type RunningApp } from '../support/demo-app.js';
import { listenerCounts, processListeners, TimerTracker } from '../support/leaks.js';
import { percentile, SteadyLoad, waitFor, type Sample } from '../support/load.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * The README's "When Redis fails" guarantees against real redis-server processes killed, frozen and restarted under the
 * demo app. Jest 30 fails the test (or the run) in which an unhandled rejection happens, so every
 * scenario below also proves there is none.
 */

/** Every answer while Redis is failing, and the time to be back on Redis once it returns. */
const ANSWER_BOUND_MS = 250;
const RECOVERY_BOUND_MS = 15_000;

const timers = new TimerTracker(/opossum|ioredis|libs\/rate-limit/);
const listenersBefore = processListeners();
timers.start();

/** A server and the demo app on it, closed by the caller's afterAll. */
class Scenario {
  server!: RedisServer;
  demo!: RunningApp;

  async start(
    env: Record<string, string> = {},
    extra: Parameters<typeof startDemo>[1] = {},
  ): Promise<this> {
    this.server = await RedisServer.start();
    this.demo = await startDemo(
      { REDIS_URL: this.server.url, ...env },
      { keyPrefix: uniquePrefix('faults'), ...extra },
    );
    return this;
  }

  get status(): RateLimitStatusService {
    return this.demo.app.get(RateLimitStatusService);
  }

  get redisDecisions(): number {
    return this.status.snapshot().stats?.redisDecisions ?? 0;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.demo.url}${path}`, { headers });
  }

  /** Resolves once a decision has been made on Redis after this call. */
  async backOnRedis(path: string, headers: Record<string, string> = {}): Promise<number> {
    const before = this.redisDecisions;
    return waitFor(
      async () => {
        await (await this.get(path, headers)).arrayBuffer();
        return this.status.snapshot().store === 'redis' && this.redisDecisions > before;
      },
      RECOVERY_BOUND_MS,
      100,
    );
  }

  async close(): Promise<void> {
    await this.demo?.close();
    await this.server?.stop();
  }
}

/** The terminus body (README: Health endpoints). */
interface HealthBody {
  status: string;
  error: Record<string, unknown>;
  details: Record<string, unknown>;
}

/** Latency figures of the samples taken from `from` on. */
function summary(samples: Sample[], from: number) {
  const after = samples.filter((s) => s.at >= from);
  const latencies = after.map((s) => s.latencyMs);
  return {
    requests: after.length,
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
  };
}

type Fault = (server: RedisServer) => Promise<void> | void;

describe.each<[string, Adapter, Fault, Fault]>([
  ['killed (SIGKILL)', 'express', (server) => server.kill(), (server) => server.launch()],
  ['stalled (SIGSTOP)', 'fastify', (server) => server.pause(), (server) => server.resume()],
])('Redis %s under steady load (%s)', (_, adapter, fail, recover) => {
  const scenario = new Scenario();
  const apiKey = { 'X-API-Key': 'load-pro' };

  beforeAll(() => scenario.start({ HTTP_ADAPTER: adapter, DEMO_API_KEYS: 'load-pro:pro' }));
  afterAll(() => scenario.close());

  it('answers within 250 ms without a 5xx, opens the breaker, is back on Redis within 15 s of its return', async () => {
    const store = scenario.status.resilientStore!;
    const client = (store.redis as RedisStore).client;
    const states: BreakerState[] = [];
    store.on('stateChange', ({ state }) => states.push(state));
    const load = new SteadyLoad(`${scenario.demo.url}/api/premium`, { headers: apiKey });
    await waitFor(() => scenario.redisDecisions >= 25, 5_000);
    const clientListeners = listenerCounts(client);

    const failedAt = load.now();
    await fail(scenario.server);
    await waitFor(() => states.includes('open'), 5_000);
    await sleep(500);

    const health = await scenario.get('/health');
    expect(health.status).toBe(200);
    expect(((await health.json()) as HealthBody).details.rate_limit).toEqual({
      status: 'degraded',
      store: 'memory',
      breaker: expect.stringMatching(/open/),
      degraded: true,
    });
    expect((await scenario.get('/health/redis')).status).toBe(503);

    await recover(scenario.server);
    const recoveryMs = await waitFor(
      () => scenario.status.snapshot().store === 'redis' && store.state === 'closed',
      RECOVERY_BOUND_MS,
    );
    const before = scenario.redisDecisions;
    await waitFor(() => scenario.redisDecisions > before + 5, 2_000);
    await waitFor(
      async () => (await scenario.get('/health/redis')).status === 200,
      RECOVERY_BOUND_MS,
    );
    const samples = await load.stop();

    const figures = summary(samples, failedAt);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(figures.requests).toBeGreaterThan(50);
    expect(figures.p99).toBeLessThan(ANSWER_BOUND_MS);
    expect(figures.max).toBeLessThan(ANSWER_BOUND_MS);
    expect(recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
    expect(scenario.status.snapshot().stats?.fallbackDecisions).toBeGreaterThan(0);
    expect(listenerCounts(client)).toEqual(clientListeners);
  }, 40_000);
});

describe('Redis absent at start', () => {
  const scenario = new Scenario();
  afterAll(() => scenario.close());

  it('starts deciding in memory with one warning, then moves to Redis when Redis appears', async () => {
    const server = await RedisServer.start();
    await server.kill();
    const warn = jest.spyOn(Logger.prototype, 'warn');
    scenario.server = server;
    scenario.demo = await startDemo(
      { REDIS_URL: server.url },
      { keyPrefix: uniquePrefix('faults-absent') },
    );

    for (let i = 0; i < 8; i++) {
      const res = await scenario.get('/api/public');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(9 - i));
    }
    expect(scenario.status.snapshot()).toEqual(
      expect.objectContaining({ store: 'memory', degraded: true }),
    );

    await server.launch();
    expect(await scenario.backOnRedis('/api/public')).toBeLessThan(RECOVERY_BOUND_MS);
    const aboutRedis = warn.mock.calls
      .map(([message]) => String(message))
      .filter((message) => /^Redis /.test(message));
    warn.mockRestore();
    expect(aboutRedis).toEqual([expect.stringContaining('Redis is not reachable yet')]);
  }, 30_000);
});

describe.each<Adapter>(['express', 'fastify'])(
  'Redis absent at start, then back with no traffic (%s)',
  (adapter) => {
    const scenario = new Scenario();
    afterAll(() => scenario.close());

    it('/health says redis, not degraded, within 15 s of Redis starting, with no request meanwhile', async () => {
      const server = await RedisServer.start();
      await server.kill();
      scenario.server = server;
      scenario.demo = await startDemo(
        { REDIS_URL: server.url, HTTP_ADAPTER: adapter },
        { keyPrefix: uniquePrefix('faults-idle') },
      );
      expect((await scenario.get('/api/public')).status).toBe(200);
      const health = async () =>
        ((await (await scenario.get('/health')).json()) as HealthBody).details.rate_limit;
      expect(await health()).toEqual(expect.objectContaining({ store: 'memory', degraded: true }));

      await server.launch();
      const decisionsBefore = scenario.status.snapshot().stats?.redisDecisions;
      const took = await waitFor(
        async () => {
          const indicator = (await health()) as { store: string; degraded: boolean };
          return indicator.store === 'redis' && !indicator.degraded;
        },
        RECOVERY_BOUND_MS,
        200,
      );
      expect(took).toBeLessThan(RECOVERY_BOUND_MS);
      // Only /health was asked meanwhile: no limited request moved it back.
      expect(scenario.status.snapshot().stats?.redisDecisions).toBe(decisionsBefore);
      const res = await scenario.get('/api/public');
      expect(res.headers.get('x-ratelimit-remaining')).toBe('9');
      expect(scenario.status.snapshot().stats?.redisDecisions).toBe((decisionsBefore ?? 0) + 1);
    }, 30_000);
  },
);

describe.each<Adapter>(['express', 'fastify'])('one bad key among many (%s)', (adapter) => {
  const scenario = new Scenario();
  let admin: Redis;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix('faults-badkey');
    await scenario.start({ HTTP_ADAPTER: adapter }, { keyPrefix: prefix });
    admin = new Redis(scenario.server.port, '127.0.0.1');
  });
  afterAll(async () => {
    admin.disconnect();
    await scenario.close();
  });

  it('decides that key by the failure mode, keeps the others on Redis, and never opens the breaker', async () => {
    // Someone else's data sits where one client's sliding log would be.
    const first = await scenario.get('/api/public', { 'x-forwarded-for': '1.1.1.1' });
    expect(first.status).toBe(200);
    const [key] = await admin.keys(`${prefix}:public:*`);
    await admin.del(key);
    await admin.set(key, 'not a sorted set', 'PX', 60_000);
    const fallbackBefore = scenario.status.snapshot().stats!.fallbackDecisions;
    for (let i = 0; i < 20; i++) {
      const res = await scenario.get('/api/public');
      expect(res.status).toBeLessThan(500);
    }
    const stats = scenario.status.snapshot().stats!;
    expect(stats.commandErrors).toBe(20);
    expect(stats.fallbackDecisions - fallbackBefore).toBe(20);
    expect(scenario.status.snapshot()).toEqual(
      expect.objectContaining({ store: 'redis', breaker: 'closed', degraded: false }),
    );
    // Another client is decided on Redis meanwhile, exactly.
    await admin.del(key);
    const redisBefore = stats.redisDecisions;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await scenario.get('/api/public')).status);
    expect(statuses).toEqual([...Array(10).fill(200), 429, 429]);
    expect(scenario.status.snapshot().stats!.redisDecisions - redisBefore).toBe(12);
  });
});

describe('Redis out of memory (maxmemory with noeviction)', () => {
  const scenario = new Scenario();
  let admin: Redis;
  beforeAll(async () => {
    await scenario.start({}, {});
    admin = new Redis(scenario.server.port, '127.0.0.1');
  });
  afterAll(async () => {
    admin.disconnect();
    await scenario.close();
  });

  it('answers every request within bounds without a 5xx, logs it, and is back on Redis once it has room', async () => {
    expect((await scenario.get('/api/public')).status).toBe(200);
    const error = jest.spyOn(Logger.prototype, 'error');
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    const latencies: number[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      const res = await scenario.get('/api/public', { 'x-api-key': `k${i}` });
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      statuses.push(res.status);
    }
    expect(statuses.every((status) => status < 500)).toBe(true);
    expect(Math.max(...latencies)).toBeLessThan(ANSWER_BOUND_MS);
    expect(scenario.status.snapshot()).toEqual(
      expect.objectContaining({ store: 'memory', degraded: true }),
    );
    const logged = error.mock.calls
      .map(([message]) => String(message))
      .filter((m) => m.includes('out of memory'));
    error.mockRestore();
    expect(logged).toHaveLength(1);
    const metrics = await (await scenario.get('/metrics')).text();
    expect(
      Number(/^rate_limit_store_errors_total\{store="redis"\} (\d+)/m.exec(metrics)?.[1]),
    ).toBeGreaterThan(0);

    await admin.config('SET', 'maxmemory', '0');
    const took = await waitFor(
      async () => scenario.status.snapshot().store === 'redis',
      RECOVERY_BOUND_MS,
      100,
    );
    expect(took).toBeLessThan(RECOVERY_BOUND_MS);
  }, 30_000);
});

describe('Redis restarts and SCRIPT FLUSH between requests', () => {
  const scenario = new Scenario();
  const apiKey = { 'X-API-Key': 'restart-pro' };
  beforeAll(() => scenario.start({ DEMO_API_KEYS: 'restart-pro:pro' }));
  afterAll(() => scenario.close());

  const statuses = async (count: number) => {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const res = await scenario.get('/api/premium', apiKey);
      await res.arrayBuffer();
      out.push(res.status);
    }
    return out;
  };

  it('reloads the script after SCRIPT FLUSH: no failed request, no fallback', async () => {
    expect(await statuses(5)).toEqual(Array(5).fill(200));
    const admin = new Redis(scenario.server.url);
    await admin.script('FLUSH');
    admin.disconnect();
    expect(await statuses(5)).toEqual(Array(5).fill(200));
    expect(scenario.status.snapshot().stats).toEqual(
      expect.objectContaining({
        redisDecisions: 10,
        fallbackDecisions: 0,
        storeErrors: 0,
        shortCircuited: 0,
      }),
    );
  });

  it('answers every request across restarts, then decides on Redis again with the script reloaded', async () => {
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      seen.push(...(await statuses(2)));
      await scenario.server.restart();
      seen.push(...(await statuses(2)));
    }
    expect(seen).toEqual(Array(12).fill(200));
    await scenario.backOnRedis('/api/premium', apiKey);
    const { storeErrors, redisDecisions } = scenario.status.snapshot().stats!;
    expect(await statuses(5)).toEqual(Array(5).fill(200));
    expect(scenario.status.snapshot().stats).toEqual(
      expect.objectContaining({ storeErrors, redisDecisions: redisDecisions + 5 }),
    );
  }, 30_000);
});

describe.each<Adapter>(['express', 'fastify'])('failure modes with Redis dead (%s)', (adapter) => {
  const scenarios: Scenario[] = [];
  afterAll(() => Promise.all(scenarios.map((s) => s.close())));

  async function deadRedis(mode: string, extra: Parameters<typeof startDemo>[1] = {}) {
    const scenario = await new Scenario().start(
      { HTTP_ADAPTER: adapter, RATE_LIMIT_FAILURE_MODE: mode },
      extra,
    );
    scenarios.push(scenario);
    await scenario.server.kill();
    return scenario;
  }

  async function timed(scenario: Scenario, path: string) {
    const started = performance.now();
    const res = await scenario.get(path);
    const body = await res.json();
    return { res, body, ms: performance.now() - started };
  }

  it('memory: decides per instance with the limit divided by fallbackDivisor, 429 as on Redis', async () => {
    const scenario = await deadRedis('memory', { fallbackDivisor: 2 });
    for (let i = 0; i < 5; i++) {
      const { res, ms } = await timed(scenario, '/api/public');
      const headers = [
        res.headers.get('x-ratelimit-limit'),
        res.headers.get('x-ratelimit-remaining'),
      ];
      expect([res.status, ...headers]).toEqual([200, '10', String(4 - i)]);
      expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    }
    const { res, body, ms } = await timed(scenario, '/api/public');
    expect(res.status).toBe(429);
    expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringContaining('public'),
      rule: 'public',
      retryAfter,
    });
    expect(scenario.status.snapshot().stats?.fallbackDecisions).toBe(6);
  });

  it('open: admits every request and counts each as a fallback decision', async () => {
    const scenario = await deadRedis('open');
    for (let i = 0; i < 15; i++) {
      const { res, ms } = await timed(scenario, '/api/public');
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    }
    expect(scenario.status.snapshot().stats?.fallbackDecisions).toBe(15);
    expect((await scenario.get('/health')).status).toBe(200);
  });

  it('closed: answers 503 with Retry-After and /health 503, then 200 again once Redis is back', async () => {
    const scenario = await deadRedis('closed');
    for (let i = 0; i < 6; i++) {
      const { res, body, ms } = await timed(scenario, '/api/public');
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.any(String),
      });
      expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    }
    const health = await scenario.get('/health');
    expect(health.status).toBe(503);
    expect(((await health.json()) as HealthBody).error.rate_limit).toEqual({
      status: 'down',
      store: 'memory',
      breaker: 'open',
      degraded: true,
    });

    await scenario.server.launch();
    await waitFor(
      async () => (await scenario.get('/api/public')).status === 200,
      RECOVERY_BOUND_MS,
      100,
    );
    expect((await scenario.get('/health')).status).toBe(200);
  }, 30_000);
});

describe('after every scenario', () => {
  it("leaves no timer (unref'd ones included) and no process listener behind", async () => {
    // ioredis gives a closing socket its disconnectTimeout (200 ms here) to end; anything left after is a leak.
    await waitFor(() => timers.pending().length === 0, 1_000).catch(() => undefined);
    timers.stop();
    expect(timers.pending()).toEqual([]);
    expect(processListeners()).toEqual(listenersBefore);
  });
});
