import type { Decision } from '../interfaces/index.js';
import type { HeaderStyle } from '../interfaces/index.js';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/** Whole seconds for `Retry-After`: at least 1, at most the rule's window. @internal */
export function retryAfterSeconds(retryAfterMs: number, windowMs: number): number {
  const cap = Math.max(1, seconds(windowMs));
  if (retryAfterMs < 0) return cap;
  return Math.min(cap, Math.max(1, seconds(retryAfterMs)));
}

/**
 * The headers of CONTRACT section 4 for a decision: the legacy `X-RateLimit-*` trio describing
 * the rule with the least remaining, and the IETF draft's `RateLimit-Policy` / `RateLimit`
 * structured-field lists with one item per rule.
 * @internal
 */
export function rateLimitHeaders(decision: Decision, now: number, style: HeaderStyle): Record<string, string> {
  const headers: Record<string, string> = {};
  if (style === 'none') return headers;
  const { binding, perRule } = decision;
  if (style === 'both' || style === 'legacy') {
    headers['X-RateLimit-Limit'] = String(binding.limit);
    headers['X-RateLimit-Remaining'] = String(Math.max(0, binding.remaining));
    headers['X-RateLimit-Reset'] = String(Math.ceil(binding.resetAtMs / 1000));
  }
  if (style === 'both' || style === 'draft') {
    headers['RateLimit-Policy'] = perRule
      .map((r) => `"${r.rule}";q=${r.limit};w=${Math.max(1, seconds(r.windowMs))}`)
      .join(', ');
    headers['RateLimit'] = perRule
      .map((r) => `"${r.rule}";r=${Math.max(0, r.remaining)};t=${seconds(r.resetAtMs - now)}`)
      .join(', ');
  }
  return headers;
}
