import type { ExecutionContext } from '@nestjs/common';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { RuleInput } from './rate-limit-rule.interface.js';

/** What happens to decisions while Redis is unreachable. @publicApi */
export type FailureMode = 'memory' | 'open' | 'closed';

/** Which rate-limit headers responses carry. @publicApi */
export type HeaderStyle = 'both' | 'legacy' | 'draft' | 'none';

/**
 * Where the Redis store connects. Give one of `url`, `options`, `cluster` or `client` (`url` and
 * `options` may be combined: the URL names the server, `options` adds the rest).
 *
 * The module's ioredis defaults fail fast (no offline queue, no retry of a command, 2 s connect
 * timeout, 1 s command timeout, reconnection with capped exponential backoff and jitter); every
 * field of `options` overrides them.
 *
 * TLS: a `rediss://` URL turns TLS on with Node's defaults; add `options.tls` (`ca`, `cert`, `key`,
 * `servername`, ...) for a private CA or client certificates.
 *
 * Sentinel: `options: { sentinels: [{ host, port }, ...], name: 'mymaster' }`, plus
 * `sentinelPassword`, `role`, `enableTLSForSentinelMode` as ioredis documents them; ioredis follows
 * failovers to the new master. With sentinels the defaults add `failoverDetector: true` (move to the
 * promoted replica on the sentinels' `+switch-master`, even if the old master's socket stays open),
 * `sentinelCommandTimeout: 500` (ms) and `sentinelRetryStrategy` with the same backoff and jitter as
 * reconnections.
 *
 * Cluster: the client gets no offline queue, `retryDelayOnMoved: 0`, `retryDelayOnTryAgain`,
 * `retryDelayOnClusterDown` and `retryDelayOnFailover` of 10 ms, `maxRedirections` sized to fit
 * `breaker.timeoutMs` (8 for 100 ms) and `slotsRefreshInterval: 5000` (ms); every node gets the
 * fail-fast defaults above. Before serving, the module waits (up to 2 s) for every master's
 * connection, and it loads the scripts on every node as its connection becomes ready.
 * @publicApi
 * @example
 * ```ts
 * { url: 'rediss://:secret@redis.example.com:6380', options: { tls: { ca: readFileSync('ca.pem') } } }
 * { options: { sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster', password: 'secret' } }
 * ```
 */
export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` (TLS) URL, with optional user, password and database: `redis://:pass@host:6379/0`. */
  url?: string;
  /** ioredis options (Sentinel, TLS, auth...), merged over the fail-fast defaults (and the Sentinel ones when `sentinels` is set). */
  options?: RedisOptions;
  /** Redis Cluster start nodes and options, merged over the cluster defaults; `options.redisOptions` (TLS, auth) apply to every node. */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  /**
   * A client you own; the module neither configures nor closes it (set it up to fail fast
   * yourself). It does warm it: cluster node connections are opened and the scripts loaded.
   */
  client?: Redis | Cluster;
}

/**
 * Circuit breaker around every Redis call (opossum). While it is open, decisions follow
 * `failureMode` without touching Redis; after `resetTimeoutMs` one PING probes Redis (half-open)
 * and a success closes it. The defaults keep every answer within 250 ms while Redis is dead or
 * stalled, and return to Redis within about 4 s of its recovery.
 * @publicApi
 */
export interface BreakerOptions {
  /** A Redis call slower than this fails over to the failure mode: the longest a dead or stalled Redis can hold a request. @default 100 (ms) */
  timeoutMs?: number;
  /** How long the breaker stays open before a half-open probe. @default 2000 (ms) */
  resetTimeoutMs?: number;
  /** Percentage of failed calls (errors and timeouts) over the rolling window that opens the breaker, 1 to 100. @default 50 */
  errorThresholdPercentage?: number;
  /** Calls in the rolling window before the percentage counts, so a lone failure on a quiet instance does not open it. @default 5 */
  volumeThreshold?: number;
  /** Length of the rolling statistics window (10 buckets). @default 5000 (ms) */
  rollingCountTimeoutMs?: number;
}

/**
 * How the `user` key source finds the authenticated principal. The holder is the request (HTTP
 * and GraphQL), the client socket (WebSockets) or the message data (microservices), as an auth
 * guard that runs before the limiter left it.
 * @publicApi
 */
export interface UserKeyOptions {
  /** The principal's id, or `undefined` when there is none. @default (holder) => holder.user?.id ?? holder.user?.sub */
  // `any`, so that `(req) => req.principal?.id` needs no cast: the holder's type is the app's.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  id?: (holder: any, ctx: ExecutionContext) => string | number | null | undefined;
  /**
   * A caller without a principal under a rule keyed by `user`: `ip` limits it by client IP,
   * `deny` refuses it as unauthenticated (HTTP 401, or the context's own error).
   * @default 'ip'
   */
  fallback?: 'ip' | 'deny';
}

/** Options of `RateLimitModule.forRoot`. @publicApi */
export interface RateLimitModuleOptions {
  /** Redis connection; omitted: the in-memory store (one instance only). */
  redis?: RedisConnectionOptions;
  /** Prefix of every Redis key. @default 'rl' */
  keyPrefix?: string;
  /** Rules applied to every handler the guard covers, before class and handler rules. @default [] */
  rules?: RuleInput[];
  /** Response headers. @default 'both' */
  headers?: HeaderStyle;
  /**
   * Decisions while Redis is unreachable or the breaker is open: `memory` decides with this
   * instance's in-memory store, `open` admits every request, `closed` answers 503 with `Retry-After`.
   * @default 'memory'
   */
  failureMode?: FailureMode;
  /** In `memory` failure mode, divide each limit by this (the number of instances) so the fleet stays near the limit. @default 1 */
  fallbackDivisor?: number;
  /** Circuit breaker tuning. */
  breaker?: BreakerOptions;
  /** Bounds of the in-memory store. */
  memory?: {
    /** Keys kept before the least recently used are evicted. @default 100000 */
    maxKeys?: number;
    /** How often expired state is swept. @default 10000 (ms) */
    sweepIntervalMs?: number;
  };
  /** Where the `user` key source reads the principal, and what a caller without one gets. */
  user?: UserKeyOptions;
  /** When `X-Forwarded-For` may name the client: `false`, `true`, a hop count, or a list of trusted CIDRs/IPs. @default false */
  trustProxy?: boolean | number | string[];
  /**
   * IPv6 clients are limited per network of this many bits (IPv4 per address): one subscriber
   * usually holds a whole /64 and could otherwise take a fresh budget per address. 128 keys
   * every IPv6 address on its own. Lists still match single addresses. @default 64
   */
  ipv6Prefix?: number;
  /**
   * Secret of the HMAC that turns identities into the `key` of throttle log lines, so they
   * correlate per caller without being reversible (an IPv4 address is 2^32 guesses). Set the
   * same value on every instance to correlate across the fleet. @default a random value per process
   */
  logSecret?: string;
  /**
   * Denials Redis gave that this instance remembers and answers itself until they end (see the
   * README's "The deny cache"), at most this many; 0 sends every request to Redis. @default 10000
   */
  denyCacheSize?: number;
  /** Clock of the in-memory store (Redis uses its own `TIME`). Tests inject one. @default Date.now */
  clock?: () => number;
  /** Folder with `consume.lua`; found by walking up from the library when omitted. */
  luaDir?: string;
}
