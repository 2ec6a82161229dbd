import { Logger, type Provider } from '@nestjs/common';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RateLimitModuleOptions } from './interfaces/index.js';
import { REDIS_CLIENT, RESOLVED_OPTIONS } from './rate-limit.constants.js';
import { MODULE_OPTIONS_TOKEN } from './rate-limit.module-definition.js';
import { resolveOptions, type ResolvedOptions } from './rate-limit.options.js';
import { findLuaDir, loadLuaScripts, type LoadedScript } from './stores/lua-scripts.js';
import { MemoryStore } from './stores/memory.store.js';
import { RateLimitStore } from './stores/rate-limit.store.js';
import { RedisStore } from './stores/redis.store.js';
import { DenyCache } from './stores/deny-cache.js';
import { RedisWarmup } from './stores/redis-warmup.js';
import { ResilientStore } from './stores/resilient.store.js';

/** Reconnection backoff: doubles from 100 ms up to 2 s, so a returning Redis is found within 2 s. */
const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 2_000;

/**
 * Delay before reconnection attempt `attempt` (1, 2, ...): capped exponential backoff with "equal
 * jitter" (half the delay fixed, half random), so a fleet of instances that lost Redis together
 * does not reconnect in lockstep.
 * @internal
 */
export function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(
    RECONNECT_MAX_MS,
    RECONNECT_BASE_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 16),
  );
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * ioredis settings for a limiter: a dead Redis costs a fast error (turned into the failure mode)
 * rather than a hung request. No offline queue, so nothing waits for a connection; no retry and
 * no resend after a reconnect, because the breaker has answered that request already and a late
 * resend would charge it twice; a command timeout, so nothing stays pending while Redis is stalled;
 * reconnection forever, with backoff and jitter. Every field can be overridden through `redis.options`.
 * @internal
 */
export const FAIL_FAST_REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2_000,
  commandTimeout: 1_000,
  // A dead server never acknowledges the close: shutting down should not wait 2 s (the default) for it.
  disconnectTimeout: 200,
  retryStrategy: reconnectDelay,
};

/**
 * Added to the defaults when `redis.options` names sentinels. ioredis only asks the sentinels for
 * the master when its connection closes; with `failoverDetector` it also listens for their
 * `+switch-master` and moves to the promoted replica at once, even when the old master's socket
 * stays open (a partition, a stalled server). A sentinel that accepts the connection but does not
 * answer would hold up that search: its commands time out after 500 ms and the next sentinel is
 * asked. When no sentinel answers, retries back off with jitter, as reconnections do.
 * @internal
 */
export const FAIL_FAST_SENTINEL_OPTIONS: RedisOptions = {
  failoverDetector: true,
  sentinelCommandTimeout: 500,
  sentinelRetryStrategy: reconnectDelay,
};

/** Pause before ioredis retries a command a cluster node answered TRYAGAIN or CLUSTERDOWN to, or whose connection closed. */
const CLUSTER_RETRY_DELAY_MS = 10;

/**
 * Redis Cluster settings for a limiter whose Redis calls get `breakerTimeoutMs`: ioredis follows
 * `MOVED` and `ASK` at once and retries `TRYAGAIN` (a slot half migrated), `CLUSTERDOWN` (a
 * failover under way) and a closed node connection after 10 ms instead of 100 ms, and gives up
 * before the breaker's budget is spent (8 redirections or retries for 100 ms). A command still
 * retrying after the breaker has answered from the failure mode would charge Redis for a request
 * it never decided. No offline queue: while no node answers, commands fail at once. The slot map
 * is also refreshed every 5 s, so that new nodes are found (and warmed) without waiting for a
 * redirection. Every field can be overridden through `redis.cluster.options`.
 * @internal
 */
export function failFastClusterOptions(breakerTimeoutMs: number): ClusterOptions {
  return {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    retryDelayOnMoved: 0,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
    maxRedirections: Math.max(2, Math.floor((breakerTimeoutMs * 0.8) / CLUSTER_RETRY_DELAY_MS)),
    slotsRefreshInterval: 5_000,
  };
}

/** How long boot waits for a first connection (every master's, on a cluster) before starting without Redis. */
const CONNECT_WAIT_MS = 2_000;

/**
 * Owns the client it creates (closed on shutdown); a given client stays the caller's. Either way
 * it keeps the client's nodes warm (connections open, scripts loaded; see `RedisWarmup`).
 * @internal
 */
export class RedisClientHolder {
  private readonly warmup?: RedisWarmup;

  constructor(
    readonly client: Redis | Cluster | null,
    readonly owned: boolean,
    scripts: readonly LoadedScript[] = [],
  ) {
    if (client) this.warmup = new RedisWarmup(client, scripts);
  }

  /**
   * Resolves once the client is ready (on a cluster: the slot map known and every master's
   * connection ready), with the scripts loaded, or after `timeoutMs` (then the app starts anyway
   * and decides by its failure mode until Redis answers). Without this wait, requests arriving
   * while the connections are still being made would fail fast.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    return this.warmup ? this.warmup.ready(timeoutMs) : false;
  }

  async close(): Promise<void> {
    this.warmup?.dispose();
    if (this.client && this.owned) {
      this.client.disconnect();
    }
  }
}

export function createRedisClient(options: ResolvedOptions): RedisClientHolder {
  const redis = options.redis;
  if (!redis) return new RedisClientHolder(null, false);
  const scripts = loadLuaScripts(findLuaDir(options.luaDir));
  if (redis.client) return new RedisClientHolder(redis.client, false, scripts);
  if (redis.cluster) {
    const client = new Cluster(redis.cluster.nodes, {
      ...failFastClusterOptions(options.breaker.timeoutMs),
      ...redis.cluster.options,
      redisOptions: { ...FAIL_FAST_REDIS_OPTIONS, ...redis.cluster.options?.redisOptions },
    });
    client.on('error', () => undefined);
    return new RedisClientHolder(client, true, scripts);
  }
  const sentinel = redis.options?.sentinels?.length ? FAIL_FAST_SENTINEL_OPTIONS : {};
  const settings = { ...FAIL_FAST_REDIS_OPTIONS, ...sentinel, ...redis.options };
  const client = redis.url ? new Redis(redis.url, settings) : new Redis(settings);
  // Errors surface through commands and health checks; an unhandled 'error' event would only add noise.
  client.on('error', () => undefined);
  return new RedisClientHolder(client, true, scripts);
}

export const rateLimitProviders: Provider[] = [
  {
    provide: RESOLVED_OPTIONS,
    useFactory: (options: RateLimitModuleOptions) => resolveOptions(options),
    inject: [MODULE_OPTIONS_TOKEN],
  },
  {
    provide: REDIS_CLIENT,
    useFactory: async (options: ResolvedOptions) => {
      const holder = createRedisClient(options);
      // The store warns (once) when Redis is still unreachable after this wait.
      await holder.ready(CONNECT_WAIT_MS);
      return holder;
    },
    inject: [RESOLVED_OPTIONS],
  },
  {
    provide: MemoryStore,
    useFactory: (options: ResolvedOptions) =>
      new MemoryStore({
        maxKeys: options.maxKeys,
        sweepIntervalMs: options.sweepIntervalMs,
        clock: options.clock,
      }),
    inject: [RESOLVED_OPTIONS],
  },
  {
    provide: RateLimitStore,
    useFactory: (
      options: ResolvedOptions,
      holder: RedisClientHolder,
      memory: MemoryStore,
      denyCache: DenyCache,
    ) => {
      if (!holder.client) {
        new Logger('RateLimit').log(
          'No Redis configured: using the in-memory store (limits are per instance)',
        );
        return memory;
      }
      return new ResilientStore(new RedisStore(holder.client, options.luaDir), memory, {
        failureMode: options.failureMode,
        fallbackDivisor: options.fallbackDivisor,
        breaker: options.breaker,
        clock: options.clock,
        denyCache,
      });
    },
    inject: [RESOLVED_OPTIONS, REDIS_CLIENT, MemoryStore, DenyCache],
  },
];
