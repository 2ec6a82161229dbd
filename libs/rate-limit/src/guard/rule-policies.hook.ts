import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Charge } from '../core/rate-limiter.service.js';
import { counts } from '../core/rule-policies.js';

/** The response header naming how long a shaped request was held before its handler ran (ms). @internal */
export const DELAY_HEADER = 'X-RateLimit-Delay-Ms';

/** Node's own request or response under an adapter's (Fastify wraps them as `raw`). */
const raw = <T>(object: object): T => ('raw' in object ? object.raw : object) as T;

/**
 * Holds a shaped request for `delayMs` on a timer, so the event loop runs on. Answers `false` as
 * soon as the client goes away: the response closes before anything was sent (the handler has
 * not run, so a close can only be the connection's), or the request is aborted.
 * @internal
 */
export function holdForSlot(request: object, response: object, delayMs: number): Promise<boolean> {
  const req = raw<IncomingMessage>(request);
  const res = raw<ServerResponse>(response);
  if (req.socket?.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (kept: boolean) => {
      clearTimeout(timer);
      res.off('close', gone);
      req.off('aborted', gone);
      resolve(kept);
    };
    const gone = () => done(false);
    const timer = setTimeout(() => done(true), delayMs);
    res.once('close', gone);
    req.once('aborted', gone);
  });
}

/**
 * Once the response has finished, refunds the charges of the rules whose `count` its status does
 * not match. A response that closes unfinished (the client went away) keeps its charges: its
 * outcome is unknown, and keeping them never lets more through than the limit.
 * @internal
 */
export function refundUncountedOnFinish(
  response: object,
  charged: readonly Charge[],
  refund: (uncounted: Charge[]) => void,
): void {
  const policed = charged.filter((c) => (c.rule.count ?? 'all') !== 'all');
  if (policed.length === 0) return;
  const res = raw<ServerResponse>(response);
  res.once('finish', () => {
    const uncounted = policed.filter((c) => !counts(c.rule.count, res.statusCode));
    if (uncounted.length > 0) refund(uncounted);
  });
}
