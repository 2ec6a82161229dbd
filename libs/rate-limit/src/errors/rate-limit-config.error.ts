/**
 * A rule or option that cannot work; thrown at boot so the app never starts half-configured.
 * @publicApi
 */
export class RateLimitConfigError extends Error {
  readonly code = 'ERATELIMITCONFIG';

  constructor(
    message: string,
    /** `Controller.handler` or the option path, when the error is about one. */
    readonly where?: string,
    /** The offending field. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RateLimitConfigError';
    Error.captureStackTrace?.(this, RateLimitConfigError);
  }
}
