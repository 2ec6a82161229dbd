/** @internal DI token of the validated, defaulted, frozen options. */
export const RESOLVED_OPTIONS = Symbol('RATE_LIMIT_RESOLVED_OPTIONS');
/** @internal DI token of the ioredis client (or `null` with the memory store). */
export const REDIS_CLIENT = Symbol('RATE_LIMIT_REDIS_CLIENT');

/** @internal Metadata keys. */
export const RATE_LIMIT_RULES = 'rate-limit:rules';
export const SKIP_RATE_LIMIT = 'rate-limit:skip';

/** @internal One table of bounds, used by boot-time validation and the admin API alike. */
export const BOUNDS = {
  limit: { min: 1, max: 1_000_000_000 },
  windowMs: { min: 1, max: 2_678_400_000 },
  cost: { min: 1, max: 1_000_000_000 },
} as const;

/** @internal */
export const DEFAULTS = {
  keyPrefix: 'rl',
  headers: 'both',
  failureMode: 'memory',
  fallbackDivisor: 1,
  maxKeys: 100_000,
  sweepIntervalMs: 10_000,
  ipv6Prefix: 64,
  // Sized to the README's failure guarantees (When Redis fails): a Redis call never holds a request more than 100 ms (150 ms of
  // margin to the 250 ms answer bound); a 5 s window reacts to a stall within seconds even after a
  // busy healthy period; probes every 2 s, with reconnects capped at 2 s, put decisions back on
  // Redis within about 4 s of its return at worst (the README promises 15 s).
  breaker: {
    timeoutMs: 100,
    resetTimeoutMs: 2_000,
    errorThresholdPercentage: 50,
    volumeThreshold: 5,
    rollingCountTimeoutMs: 5_000,
  },
  /** How long the `redis` health indicator waits for PING. */
  redisPingTimeoutMs: 1_000,
} as const;

/** @internal Identifiers longer than this (bytes) are stored as their hash. */
export const MAX_ID_BYTES = 64;
