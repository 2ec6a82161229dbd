import { Logger, type Provider } from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RateLimitModuleOptions } from './interfaces/index.js';
import { REDIS_CLIENT, RESOLVED_OPTIONS } from './rate-limit.constants.js';
import { MODULE_OPTIONS_TOKEN } from './rate-limit.module-definition.js';
import { resolveOptions, type ResolvedOptions } from './rate-limit.options.js';
import { MemoryStore } from './stores/memory.store.js';
import { RateLimitStore } from './stores/rate-limit.store.js';
import { RedisStore } from './stores/redis.store.js';
import { DenyCache } from './stores/deny-cache.js';
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
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 16));
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
  // Decisions made in the same tick go out in one write (and come back in one read).
  enableAutoPipelining: true,
};

/** How long boot waits for a first connection before starting without Redis. */
const CONNECT_WAIT_MS = 2_000;

/** @internal Owns the client it creates (closed on shutdown); a given client stays the caller's. */
export class RedisClientHolder {
  constructor(
    readonly client: Redis | Cluster | null,
    readonly owned: boolean,
  ) {}

  /**
   * Resolves once the client is ready, or after `timeoutMs` (then the app starts anyway and
   * decides by its failure mode until Redis answers). Without this wait, requests arriving
   * while the connection is still being made would fail fast.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (!client) return false;
    if (client.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      client.once('ready', onReady);
    });
  }

  async close(): Promise<void> {
    if (this.client && this.owned) {
      this.client.disconnect();
    }
  }
}

export function createRedisClient(options: ResolvedOptions): RedisClientHolder {
  const redis = options.redis;
  if (!redis) return new RedisClientHolder(null, false);
  if (redis.client) return new RedisClientHolder(redis.client, false);
  if (redis.cluster) {
    const client = new Cluster(redis.cluster.nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: reconnectDelay,
      ...redis.cluster.options,
      redisOptions: { ...FAIL_FAST_REDIS_OPTIONS, ...redis.cluster.options?.redisOptions },
    });
    client.on('error', () => undefined);
    return new RedisClientHolder(client, true);
  }
  const settings = { ...FAIL_FAST_REDIS_OPTIONS, ...redis.options };
  const client = redis.url ? new Redis(redis.url, settings) : new Redis(settings);
  // Errors surface through commands and health checks; an unhandled 'error' event would only add noise.
  client.on('error', () => undefined);
  return new RedisClientHolder(client, true);
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
      new MemoryStore({ maxKeys: options.maxKeys, sweepIntervalMs: options.sweepIntervalMs, clock: options.clock }),
    inject: [RESOLVED_OPTIONS],
  },
  {
    provide: RateLimitStore,
    useFactory: (options: ResolvedOptions, holder: RedisClientHolder, memory: MemoryStore, denyCache: DenyCache) => {
      if (!holder.client) {
        new Logger('RateLimit').log('No Redis configured: using the in-memory store (limits are per instance)');
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
