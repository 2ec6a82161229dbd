import type { LoggerService } from '@nestjs/common';
import { createHmac, randomBytes } from 'node:crypto';

/** The outcomes worth a log line. @publicApi */
export type ThrottleOutcome = 'denied' | 'dry_run_denied' | 'blocked';

/**
 * One throttle event as logged: an object, so JSON loggers (Nest's `ConsoleLogger` with
 * `json: true`, nestjs-pino) write it as one line of fields.
 * @publicApi
 */
export interface ThrottleEvent {
  event: 'rate_limit.throttled';
  outcome: ThrottleOutcome;
  /** Rule name, or `*` for a blocked caller (no rule was consulted). */
  rule: string;
  /**
   * First 16 hex digits of the HMAC-SHA-256 of the identity (`ip=…`, `key=…`) under the
   * module's `logSecret`: lines correlate per caller without exposing IPs or API keys, and
   * without the secret no one can test guesses against them.
   */
  key: string;
  /** Seconds until a retry would be admitted (`Retry-After`); absent when blocked. */
  retryAfter?: number;
  /** Events left out by sampling since the previous line. */
  suppressed?: number;
}

/** Sampling of throttle lines. @internal */
export interface ThrottleLogOptions {
  /** Lines written at most per interval; the rest are counted and reported on the next line. @default 10 */
  maxLines?: number;
  /** @default 1000 (ms) */
  intervalMs?: number;
  /** @default Date.now */
  clock?: () => number;
  /** Key of the identity HMAC. @default a random value per process */
  secret?: string;
}

/** Keyed hash of an identity for logs. @internal */
export const keyHash = (secret: string, identity: string): string =>
  createHmac('sha256', secret).update(identity).digest('hex').slice(0, 16);

/**
 * Writes throttle events through a Nest logger, at most `maxLines` per interval, so a flood of
 * denials costs a few lines a second and a count of what was left out, never one line per request.
 * @internal
 */
export class ThrottleLog {
  private readonly maxLines: number;
  private readonly intervalMs: number;
  private readonly clock: () => number;
  private readonly secret: string;
  private windowStart = -Infinity;
  private written = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: LoggerService,
    options: ThrottleLogOptions = {},
  ) {
    this.maxLines = options.maxLines ?? 10;
    this.intervalMs = options.intervalMs ?? 1_000;
    this.clock = options.clock ?? Date.now;
    this.secret = options.secret ?? randomBytes(32).toString('base64url');
  }

  record(outcome: ThrottleOutcome, rule: string, identity: string, retryAfter?: number): void {
    const now = this.clock();
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.written = 0;
    }
    if (this.written >= this.maxLines) {
      this.suppressed++;
      return;
    }
    this.written++;
    // Hashing only what is written keeps the cost of a flood to a counter increment.
    const event: ThrottleEvent = {
      event: 'rate_limit.throttled',
      outcome,
      rule,
      key: keyHash(this.secret, identity),
    };
    if (retryAfter !== undefined) event.retryAfter = retryAfter;
    if (this.suppressed > 0) event.suppressed = this.suppressed;
    this.suppressed = 0;
    this.logger.log(event);
  }
}
