import type { LoggerService } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { keyHash, ThrottleLog, type ThrottleEvent } from './throttle-log.js';

const SECRET = 'a-deployment-secret-of-some-length';

class CapturingLogger implements LoggerService {
  readonly lines: ThrottleEvent[] = [];
  log(message: ThrottleEvent): void {
    this.lines.push(message);
  }
  error(): void {}
  warn(): void {}
}

describe('ThrottleLog', () => {
  it('writes structured events with a keyed hash of the identity, never the identity itself', () => {
    const logger = new CapturingLogger();
    new ThrottleLog(logger, { secret: SECRET }).record('denied', 'public', 'ip=203.0.113.7', 12);
    expect(logger.lines).toEqual([
      {
        event: 'rate_limit.throttled',
        outcome: 'denied',
        rule: 'public',
        key: keyHash(SECRET, 'ip=203.0.113.7'),
        retryAfter: 12,
      },
    ]);
    expect(logger.lines[0].key).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(logger.lines)).not.toContain('203.0.113.7');
  });

  it('hashes with the secret: no one without it can recompute the key, and instances sharing it agree', () => {
    const identity = 'ip=203.0.113.7';
    const plain = createHash('sha256').update(identity).digest('hex').slice(0, 16);
    const [a, b, c] = [new CapturingLogger(), new CapturingLogger(), new CapturingLogger()];
    new ThrottleLog(a).record('denied', 'public', identity, 1);
    new ThrottleLog(b, { secret: SECRET }).record('denied', 'public', identity, 1);
    new ThrottleLog(c, { secret: SECRET }).record('denied', 'public', identity, 1);
    expect(a.lines[0].key).not.toBe(plain);
    expect(b.lines[0].key).not.toBe(plain);
    expect(a.lines[0].key).not.toBe(b.lines[0].key);
    expect(b.lines[0].key).toBe(c.lines[0].key);
  });

  it('writes at most maxLines per interval and reports what it left out on the next line', () => {
    let now = 1_000_000;
    const logger = new CapturingLogger();
    const log = new ThrottleLog(logger, { maxLines: 3, intervalMs: 1000, clock: () => now });
    for (let i = 0; i < 10_000; i++)
      log.record('denied', 'public', `ip=10.0.${i >> 8}.${i & 255}`, 1);
    expect(logger.lines).toHaveLength(3);
    now += 999;
    log.record('blocked', '*', 'ip=10.9.9.9');
    expect(logger.lines).toHaveLength(3);
    now += 1;
    log.record('dry_run_denied', 'writes', 'key=k', 5);
    expect(logger.lines).toHaveLength(4);
    expect(logger.lines[3]).toMatchObject({
      outcome: 'dry_run_denied',
      rule: 'writes',
      suppressed: 9_998,
    });
    log.record('denied', 'writes', 'key=k', 5);
    expect(logger.lines[4].suppressed).toBeUndefined();
  });
});
