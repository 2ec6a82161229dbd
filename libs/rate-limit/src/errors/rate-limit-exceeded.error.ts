/**
 * `RateLimiter.acquire` gave up: the request can never be admitted (`retryAfterMs` -1, its
 * cost is above the limit) or the next wait would pass `maxWait`.
 * @publicApi
 */
export class RateLimitExceededError extends Error {
  readonly code = 'ERATELIMITED';

  constructor(
    /** The rule that denied. */
    readonly rule: string,
    /** How long until a retry could be admitted (ms); -1 never. */
    readonly retryAfterMs: number,
    /** How long `acquire` had waited already (ms). */
    readonly waitedMs: number,
  ) {
    super(
      retryAfterMs < 0
        ? `Rate-limit rule "${rule}" can never admit this request: its cost exceeds the limit`
        : `Rate-limit rule "${rule}" would admit this request only in ${retryAfterMs} ms, past the wait allowed (waited ${waitedMs} ms)`,
    );
    this.name = 'RateLimitExceededError';
  }
}
