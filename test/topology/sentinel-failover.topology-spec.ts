import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RateLimitStatusService } from '@app/rate-limit';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { waitFor, type Sample } from '../support/load.js';
import { RedisSentinelGroup } from '../support/redis-sentinel.js';
import type { RedisServer } from '../support/redis-server.js';
import { answerBound, burst, healthOf, LoadGroup, summary, tally } from '../support/topology.js';

/**
 * A real Sentinel deployment (one master, one replica, three sentinels, `down-after-milliseconds`
 * 1000) behind two demo instances found through `REDIS_SENTINELS`: the master killed under load.
 */
const RECOVERY_BOUND_MS = 15_000;

describe('Redis Sentinel: the master killed under load (Express and Fastify instances)', () => {
  let group: RedisSentinelGroup;
  let apps: RunningApp[] = [];
  const prefix = uniquePrefix('sentinel');

  beforeAll(async () => {
    group = await RedisSentinelGroup.start({ downAfterMs: 1_000, failoverTimeoutMs: 2_000 });
    apps = await Promise.all(
      ['express', 'fastify'].map((adapter) =>
        startDemo(
          { REDIS_SENTINELS: group.sentinelsEnv, HTTP_ADAPTER: adapter, TRUST_PROXY: '127.0.0.1' },
          { keyPrefix: prefix },
        ),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await group?.stop();
  });

  const urls = () => apps.map((a) => a.url);
  const as = (ip: string): RequestInit => ({ headers: { 'X-Forwarded-For': ip } });
  const fallbacks = () =>
    apps.reduce(
      (sum, a) =>
        sum + (a.app.get(RateLimitStatusService).snapshot().stats?.fallbackDecisions ?? 0),
      0,
    );
  const allOnRedis = async () => {
    const health = (await Promise.all(urls().map(healthOf))) as Array<{
      store: string;
      degraded: boolean;
    }>;
    return health.every((h) => h.store === 'redis' && !h.degraded);
  };
  async function holds(server: RedisServer, key: string): Promise<boolean> {
    const client = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      return (await client.exists(key)) === 1;
    } finally {
      client.disconnect();
    }
  }

  it('decides the first burst on the master, exactly', async () => {
    expect(tally(await burst(urls(), '/api/public', 30, as('10.5.0.1')))).toEqual({
      200: 10,
      429: 20,
    });
    expect(fallbacks()).toBe(0);
    expect(
      await holds(
        (await group.master())!,
        stateKey(prefix, 'public', 'sliding-window-log', 'ip=10.5.0.1'),
      ),
    ).toBe(true);
  });

  it('no 5xx, answers in bound, decisions on the promoted replica within 15 s, exact afterwards', async () => {
    const victim = (await group.master())!;
    const load = new LoadGroup(urls(), '/api/public', as('10.5.0.2'));
    let samples: Sample[];
    let faultAt = 0;
    let promotedMs: number;
    let backMs: number;
    let promoted: RedisServer;
    try {
      await sleep(1_000);
      faultAt = load.now();
      const killedAt = performance.now();
      await victim.kill();
      promoted = await group.untilPromoted(victim);
      promotedMs = performance.now() - killedAt;
      await waitFor(allOnRedis, RECOVERY_BOUND_MS, 50);
      backMs = performance.now() - killedAt;
      await sleep(500);
    } finally {
      samples = await load.stop();
    }
    const during = summary(samples, faultAt);
    const bound = answerBound(samples.filter((s) => s.at < faultAt));
    console.log(
      `sentinel failover: kill -> promoted ${Math.round(promotedMs)} ms, -> every instance on Redis ${Math.round(backMs)} ms; ` +
        `answers from the kill on: ${JSON.stringify(during)}; bound ${Math.round(bound)} ms`,
    );

    expect(Object.keys(during.statuses).filter((s) => s !== '200' && s !== '429')).toEqual([]);
    expect(during.requests).toBeGreaterThan(50);
    expect(during.max).toBeLessThan(bound);
    expect(backMs).toBeLessThan(RECOVERY_BOUND_MS);

    // A fresh client: exactly its limit, decided on (and stored by) the promoted server.
    const before = fallbacks();
    expect(tally(await burst(urls(), '/api/public', 30, as('10.5.0.3')))).toEqual({
      200: 10,
      429: 20,
    });
    expect(fallbacks()).toBe(before);
    expect(
      await holds(promoted!, stateKey(prefix, 'public', 'sliding-window-log', 'ip=10.5.0.3')),
    ).toBe(true);
  }, 40_000);
});
