import type { Decision, HeaderStyle } from '../interfaces/index.js';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/**
 * The rate-limit headers of a decision: the legacy `X-RateLimit-*` trio describing the binding
 * rule, the IETF draft's `RateLimit-Policy` / `RateLimit` structured-field lists with one item
 * per rule, and, on a denial, `Retry-After` (whatever the style: clients rely on it).
 * @internal
 */
export function rateLimitHeaders(
  decision: Decision,
  now: number,
  style: HeaderStyle,
): Record<string, string> {
  const headers: Record<string, string> = {};
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
  if (perRule.some((r) => r.mode === 'dry-run' && !r.allowed)) {
    headers['X-RateLimit-Dry-Run'] = 'would-deny';
    headers['X-RateLimit-Remaining'] = '0';
  }
  if (!decision.allowed) headers['Retry-After'] = String(decision.retryAfter);
  return headers;
}
