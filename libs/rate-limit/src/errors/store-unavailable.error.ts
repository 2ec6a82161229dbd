/**
 * Why a store could not decide: the breaker was open, Redis timed out, Redis failed (no
 * connection, or a server-wide refusal such as `OOM`), or Redis answered this call's keys with an
 * error (`ECOMMAND`: `WRONGTYPE`, an error raised by the script).
 * @publicApi
 */
export type StoreErrorCode = 'EBREAKEROPEN' | 'ESTORETIMEOUT' | 'ESTORE' | 'ECOMMAND';

/**
 * The store could not decide (Redis unreachable, slow, or the breaker open).
 * The guard turns it into the configured failure mode; it never reaches clients as a 500.
 * @publicApi
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    Error.captureStackTrace?.(this, StoreUnavailableError);
  }
}
