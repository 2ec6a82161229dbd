import type { Cluster, Redis } from 'ioredis';
import type { RedisConnectionOptions } from './interfaces/index.js';
import {
  createRedisClient,
  FAIL_FAST_REDIS_OPTIONS,
  failFastClusterOptions,
  reconnectDelay,
} from './rate-limit.providers.js';
import { resolveOptions } from './rate-limit.options.js';

describe('reconnectDelay', () => {
  it('doubles from 100 ms to a 2 s cap, each delay jittered within its upper half', () => {
    const ceilings = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
    ceilings.forEach((ceiling, i) => {
      for (let draw = 0; draw < 50; draw++) {
        const delay = reconnectDelay(i + 1);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    });
    expect(reconnectDelay(10_000)).toBeLessThanOrEqual(2_000);
  });

  it('spreads the instances of a fleet instead of reconnecting them in lockstep', () => {
    const delays = new Set(Array.from({ length: 100 }, () => reconnectDelay(8)));
    expect(delays.size).toBeGreaterThan(50);
  });
});

describe('createRedisClient', () => {
  /** The options ioredis ends up with (lazyConnect: nothing connects). */
  const built = (redis: RedisConnectionOptions) => {
    const holder = createRedisClient(resolveOptions({ redis }));
    const client = holder.client as Redis;
    client.disconnect();
    return client.options;
  };

  it('fails fast by default', () => {
    expect(built({ url: 'redis://127.0.0.1:1', options: { lazyConnect: true } })).toEqual(
      expect.objectContaining({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        connectTimeout: 2_000,
        commandTimeout: 1_000,
        disconnectTimeout: 200,
        retryStrategy: reconnectDelay,
      }),
    );
  });

  it('passes TLS (rediss:// plus options.tls) and Sentinel options through to ioredis, over the defaults', () => {
    const tls = built({
      url: 'rediss://:secret@127.0.0.1:6380/2',
      options: { lazyConnect: true, tls: { servername: 'redis.internal' } },
    });
    expect(tls).toEqual(
      expect.objectContaining({
        host: '127.0.0.1',
        port: 6380,
        db: 2,
        password: 'secret',
        tls: { servername: 'redis.internal' },
      }),
    );
    expect(
      built({ url: 'rediss://127.0.0.1:6380', options: { lazyConnect: true } }).tls,
    ).toBeTruthy();

    const sentinels = [{ host: '127.0.0.1', port: 26379 }];
    const sentinel = built({
      options: { lazyConnect: true, sentinels, name: 'mymaster', commandTimeout: 300 },
    });
    expect(sentinel).toEqual(
      expect.objectContaining({
        sentinels,
        name: 'mymaster',
        commandTimeout: 300,
        enableOfflineQueue: false,
      }),
    );
    expect(FAIL_FAST_REDIS_OPTIONS.commandTimeout).toBe(1_000);
  });

  it('adds the Sentinel defaults only with sentinels: failover detector, sentinel command timeout, jittered retries', () => {
    const sentinels = [{ host: '127.0.0.1', port: 26379 }];
    expect(built({ options: { lazyConnect: true, sentinels, name: 'mymaster' } })).toEqual(
      expect.objectContaining({
        failoverDetector: true,
        sentinelCommandTimeout: 500,
        sentinelRetryStrategy: reconnectDelay,
        retryStrategy: reconnectDelay,
      }),
    );
    expect(
      built({
        options: { lazyConnect: true, sentinels, name: 'mymaster', failoverDetector: false },
      }).failoverDetector,
    ).toBe(false);
    const plain = built({ url: 'redis://127.0.0.1:1', options: { lazyConnect: true } });
    expect([plain.failoverDetector, plain.sentinelCommandTimeout]).toEqual([false, undefined]);
  });

  it('keeps every cluster redirection and retry inside the breaker budget, no offline queue', () => {
    const holder = createRedisClient(
      resolveOptions({
        redis: {
          cluster: { nodes: [{ host: '127.0.0.1', port: 1 }], options: { lazyConnect: true } },
        },
      }),
    );
    const cluster = holder.client as Cluster;
    cluster.disconnect();
    expect(cluster.options).toEqual(
      expect.objectContaining({
        enableOfflineQueue: false,
        retryDelayOnMoved: 0,
        retryDelayOnTryAgain: 10,
        retryDelayOnClusterDown: 10,
        retryDelayOnFailover: 10,
        maxRedirections: 8,
        redisOptions: expect.objectContaining({
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
        }),
      }),
    );
    // Every retry delay together stays under 80% of the breaker's timeout, whatever it is.
    for (const timeoutMs of [50, 100, 250, 1_000]) {
      const { maxRedirections, retryDelayOnTryAgain } = failFastClusterOptions(timeoutMs);
      expect(maxRedirections! * retryDelayOnTryAgain!).toBeLessThanOrEqual(
        Math.max(20, timeoutMs * 0.8),
      );
    }
  });
});
