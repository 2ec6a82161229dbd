import type { Decision, HeaderStyle, RuleDecision } from '../interfaces/index.js';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/** A rule's `RateLimit-Policy` item, the same for every request until its limit or window changes. */
interface PolicyItem {
  limit: number;
  windowMs: number;
  text: string;
}

/** By rule name: rule names are fixed at boot, so this stays as small as the rule list. */
const policyItems = new Map<string, PolicyItem>();
const POLICY_ITEMS_MAX = 10_000;

function policyItem(r: RuleDecision): string {
  const cached = policyItems.get(r.rule);
  if (cached !== undefined && cached.limit === r.limit && cached.windowMs === r.windowMs) {
    return cached.text;
  }
  const text = `"${r.rule}";q=${r.limit};w=${Math.max(1, seconds(r.windowMs))}`;
  if (policyItems.size >= POLICY_ITEMS_MAX) policyItems.clear();
  policyItems.set(r.rule, { limit: r.limit, windowMs: r.windowMs, text });
  return text;
}

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
    let policy = '';
    let state = '';
    for (let i = 0; i < perRule.length; i++) {
      const r = perRule[i];
      const separator = i === 0 ? '' : ', ';
      policy += separator + policyItem(r);
      state += `${separator}"${r.rule}";r=${Math.max(0, r.remaining)};t=${seconds(r.resetAtMs - now)}`;
    }
    headers['RateLimit-Policy'] = policy;
    headers['RateLimit'] = state;
  }
  for (const r of perRule) {
    if (r.mode === 'dry-run' && !r.allowed) {
      headers['X-RateLimit-Dry-Run'] = 'would-deny';
      headers['X-RateLimit-Remaining'] = '0';
      break;
    }
  }
  if (!decision.allowed) headers['Retry-After'] = String(decision.retryAfter);
  return headers;
}
