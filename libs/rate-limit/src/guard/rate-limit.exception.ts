import { HttpException, HttpStatus } from '@nestjs/common';

/** The 429 answer: `{statusCode, error, message, rule, retryAfter}`. @publicApi */
export class RateLimitException extends HttpException {
  constructor(
    readonly rule: string,
    readonly retryAfter: number,
    message: string,
  ) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message,
        rule,
        retryAfter,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
