import { randomBytes } from 'node:crypto';
import { RateLimitConfigError } from './errors/index.js';
import type { ExecutionContext } from '@nestjs/common';
import type {
  FailureMode,
  HeaderStyle,
  RateLimitModuleOptions,
  RedisConnectionOptions,
  RuleInput,
} from './interfaces/index.js';
import { DEFAULTS } from './rate-limit.constants.js';
import { INVALID_OPTION } from './rate-limit.messages.js';

/** @internal Options after validation and defaults: one shape for forRoot and forRootAsync. */
export interface ResolvedOptions {
  readonly redis?: RedisConnectionOptions;
  readonly keyPrefix: string;
  readonly rules: readonly RuleInput[];
  readonly headers: HeaderStyle;
  readonly failureMode: FailureMode;
  readonly fallbackDivisor: number;
  readonly breaker: Readonly<Required<NonNullable<RateLimitModuleOptions['breaker']>>>;
  readonly maxKeys: number;
  readonly sweepIntervalMs: number;
  /** The principal's id for the `user` key source, as a non-empty string, or `undefined`. */
  readonly userId: (holder: unknown, ctx: ExecutionContext) => string | undefined;
  readonly userFallback: 'ip' | 'deny';
  readonly trustProxy: boolean | number | readonly string[];
  readonly ipv6Prefix: number;
  readonly logSecret: string;
  readonly denyCacheSize: number;
  readonly clock: () => number;
  readonly luaDir?: string;
}

const oneOf = <T extends string>(
  field: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T => {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new RateLimitConfigError(
      INVALID_OPTION(field, `must be one of ${allowed.join(', ')}`),
      'options',
      field,
    );
  }
  return value as T;
};

const positiveInt = (
  field: string,
  value: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number => {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RateLimitConfigError(
      INVALID_OPTION(field, `must be an integer ${range}`),
      'options',
      field,
    );
  }
  return value;
};

const logSecret = (value: unknown): string => {
  if (value === undefined) return randomBytes(32).toString('base64url');
  if (typeof value !== 'string' || value.length < 16) {
    throw new RateLimitConfigError(
      INVALID_OPTION('logSecret', 'must be a string of at least 16 characters'),
      'options',
      'logSecret',
    );
  }
  return value;
};

type Principal = { user?: { id?: unknown; sub?: unknown } } | null | undefined;
const defaultUserId = (holder: unknown) => {
  const user = (holder as Principal)?.user;
  return user?.id ?? user?.sub;
};

/** The configured id reader, answering a non-empty string or `undefined`. */
const userId = (read: unknown): ResolvedOptions['userId'] => {
  if (read !== undefined && typeof read !== 'function') {
    throw new RateLimitConfigError(
      INVALID_OPTION('user.id', 'must be a function'),
      'options',
      'user.id',
    );
  }
  const fn = (read ?? defaultUserId) as (holder: unknown, ctx: ExecutionContext) => unknown;
  return (holder, ctx) => {
    const id = fn(holder, ctx);
    return id === undefined || id === null || id === '' ? undefined : String(id);
  };
};

/** @internal Validates and defaults module options without touching the caller's object. */
export function resolveOptions(options: RateLimitModuleOptions = {}): ResolvedOptions {
  const redis = options.redis;
  if (redis) {
    const given = ['url', 'options', 'cluster', 'client'].filter(
      (k) => redis[k as keyof RedisConnectionOptions] !== undefined,
    );
    if (given.length === 0) {
      throw new RateLimitConfigError(
        INVALID_OPTION('redis', 'give one of url, options, cluster or client'),
        'options',
        'redis',
      );
    }
    if (redis.url !== undefined && !/^rediss?:\/\//.test(redis.url)) {
      throw new RateLimitConfigError(
        INVALID_OPTION('redis.url', 'must start with redis:// or rediss://'),
        'options',
        'redis.url',
      );
    }
  }
  const trustProxy = options.trustProxy ?? false;
  if (typeof trustProxy === 'number' && (!Number.isInteger(trustProxy) || trustProxy < 0)) {
    throw new RateLimitConfigError(
      INVALID_OPTION('trustProxy', 'a hop count must be an integer >= 0'),
      'options',
      'trustProxy',
    );
  }
  const breaker = options.breaker ?? {};
  return Object.freeze({
    redis,
    keyPrefix: options.keyPrefix ?? DEFAULTS.keyPrefix,
    rules: Object.freeze([...(options.rules ?? [])]),
    headers: oneOf(
      'headers',
      options.headers,
      ['both', 'legacy', 'draft', 'none'] as const,
      DEFAULTS.headers,
    ),
    failureMode: oneOf(
      'failureMode',
      options.failureMode,
      ['memory', 'open', 'closed'] as const,
      DEFAULTS.failureMode,
    ),
    fallbackDivisor: positiveInt(
      'fallbackDivisor',
      options.fallbackDivisor,
      DEFAULTS.fallbackDivisor,
    ),
    breaker: Object.freeze({
      timeoutMs: positiveInt('breaker.timeoutMs', breaker.timeoutMs, DEFAULTS.breaker.timeoutMs),
      resetTimeoutMs: positiveInt(
        'breaker.resetTimeoutMs',
        breaker.resetTimeoutMs,
        DEFAULTS.breaker.resetTimeoutMs,
      ),
      errorThresholdPercentage: positiveInt(
        'breaker.errorThresholdPercentage',
        breaker.errorThresholdPercentage,
        DEFAULTS.breaker.errorThresholdPercentage,
        1,
        100,
      ),
      volumeThreshold: positiveInt(
        'breaker.volumeThreshold',
        breaker.volumeThreshold,
        DEFAULTS.breaker.volumeThreshold,
        0,
      ),
      rollingCountTimeoutMs: positiveInt(
        'breaker.rollingCountTimeoutMs',
        breaker.rollingCountTimeoutMs,
        DEFAULTS.breaker.rollingCountTimeoutMs,
      ),
    }),
    maxKeys: positiveInt('memory.maxKeys', options.memory?.maxKeys, DEFAULTS.maxKeys),
    sweepIntervalMs: positiveInt(
      'memory.sweepIntervalMs',
      options.memory?.sweepIntervalMs,
      DEFAULTS.sweepIntervalMs,
      0,
    ),
    userId: userId(options.user?.id),
    userFallback: oneOf('user.fallback', options.user?.fallback, ['ip', 'deny'] as const, 'ip'),
    trustProxy: Array.isArray(trustProxy) ? Object.freeze([...trustProxy]) : trustProxy,
    ipv6Prefix: positiveInt('ipv6Prefix', options.ipv6Prefix, DEFAULTS.ipv6Prefix, 1, 128),
    logSecret: logSecret(options.logSecret),
    denyCacheSize: positiveInt('denyCacheSize', options.denyCacheSize, 10_000, 0, 1_000_000),
    clock: options.clock ?? Date.now,
    luaDir: options.luaDir,
  });
}
