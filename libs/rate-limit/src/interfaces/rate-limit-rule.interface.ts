import type { ExecutionContext } from '@nestjs/common';

/** The algorithms a rule can use. @publicApi */
export type Algorithm =
  | 'fixed-window'
  | 'sliding-window-log'
  | 'sliding-window-counter'
  | 'token-bucket'
  | 'leaky-bucket'
  | 'gcra'
  | 'concurrency'
  | 'weighted-token-bucket';

/** A window: milliseconds, or a string such as `'500ms'`, `'10s'`, `'1m'`, `'1h'`, `'1d'`. @publicApi */
export type Duration = number | string;

/** `enforce` denies over the limit; `dry-run` only reports what it would deny. @publicApi */
export type RuleMode = 'enforce' | 'dry-run';

/** What the limiter knows about the caller, handed to key, tier and cost functions. @publicApi */
export interface ClientInfo {
  /** Client IP: the socket address, or `X-Forwarded-For` when `trustProxy` trusts the hop. */
  ip: string;
  /** The `X-API-Key` header, when present. */
  apiKey?: string;
}

/** Computes a key, tier or cost from the request. @publicApi */
export type RequestFn<T> = (ctx: ExecutionContext, client: ClientInfo) => T | Promise<T>;

/**
 * Built-in key sources: `ip` (client IP), `api-key` (`X-API-Key`), `user` (the authenticated
 * principal, `req.user.id` or `.sub` unless the module's `user` option says otherwise), `route`
 * (the handler; the message pattern for microservices), `global` (one budget for every caller).
 * @publicApi
 */
export type KeySource = 'ip' | 'api-key' | 'user' | 'route' | 'global';

/**
 * Which requests a rule charges, by their outcome: `all`; `failures` (status 400 and above);
 * `successes` (below 400); or a function of the response's status code. A request is checked and
 * charged before its handler runs, and refunded once its response has finished if its outcome
 * does not count. A handler that throws counts by the status its exception filter answered; a
 * response that never finished (the client went away) keeps its charge.
 * @publicApi
 */
export type CountPolicy = 'all' | 'failures' | 'successes' | ((status: number) => boolean);

/** A built-in source, a list of them (a composite key), or a function. @publicApi */
export type KeyBy = KeySource | KeySource[] | RequestFn<string>;

/** A rule as written in `@RateLimit(...)` or in the module's `rules`. @publicApi */
export interface RuleInput {
  /** Unique name; appears in headers, 429 bodies, metrics and the admin API. @default `Controller.handler` (or `Controller` on a class) */
  name?: string;
  /** The algorithm. */
  algorithm: Algorithm;
  /** Requests (or cost units) admitted per window: a positive integer up to 1,000,000,000. */
  limit: number;
  /** The window, up to 31 days. For buckets and GCRA: the time to refill `limit` units. For `concurrency`: the lease timeout. */
  window: Duration;
  /** Whose budget a request spends. */
  key: KeyBy;
  /** Units one request costs. @default 1 */
  cost?: number | RequestFn<number>;
  /** Per-tier limits (a number, or `'exempt'`); the tier comes from `tier`. */
  tiers?: Record<string, number | 'exempt'>;
  /** Names the caller's tier, looked up in `tiers`; `undefined` or an unlisted tier gets `limit`. */
  tier?: RequestFn<string | undefined>;
  /**
   * `weighted-token-bucket` only: the priority classes sharing the budget and their weights
   * (whole numbers from 1 to 1000), e.g. `{ high: 3, low: 1 }`. Class names: 1 to 32 of
   * A-Z a-z 0-9 _ -.
   */
  classes?: Record<string, number>;
  /**
   * `weighted-token-bucket` only: names the caller's class; `undefined` or an unlisted class
   * gets the lowest-weight class. Required with more than one class.
   */
  class?: RequestFn<string | undefined>;
  /** @default 'enforce' */
  mode?: RuleMode;
  /**
   * A caller this rule denies stays denied this long (up to 31 days), whatever the algorithm
   * would admit sooner; `Retry-After` and the reset headers cover the block. Not with
   * `concurrency`.
   */
  blockDuration?: Duration;
  /**
   * `leaky-bucket` and `gcra` only: a request that would be admitted within this long (up to 31
   * days) is held until its slot instead of denied (shaping); later ones are denied.
   */
  maxDelay?: Duration;
  /** Which outcomes are charged. Not with `concurrency` or `weighted-token-bucket`. @default 'all' */
  count?: CountPolicy;
}

/** A validated rule, durations in milliseconds. @publicApi */
export interface RateLimitRule {
  name: string;
  algorithm: Algorithm;
  limit: number;
  windowMs: number;
  key: KeyBy;
  cost: number | RequestFn<number>;
  tiers?: Readonly<Record<string, number | 'exempt'>>;
  tier?: RequestFn<string | undefined>;
  classes?: Readonly<Record<string, number>>;
  class?: RequestFn<string | undefined>;
  mode: RuleMode;
  /** `blockDuration` in ms; absent: no block. */
  blockMs?: number;
  /** `maxDelay` in ms; absent: no shaping. */
  maxDelayMs?: number;
  /** Absent: `all`. */
  count?: CountPolicy;
}
