/** Why a store could not decide. @publicApi */
export type StoreErrorCode = 'EBREAKEROPEN' | 'ESTORETIMEOUT' | 'ESTORE';

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
