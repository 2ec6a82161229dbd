import type { ShareInput } from '../algorithms/weighted-token-bucket.js';
import type { RateLimitRule } from '../interfaces/index.js';
import type { KeyCap } from '../runtime/config-codec.js';

/** The limit in force for one caller under one rule, and where it came from. @internal */
export type AppliedLimit =
  | {
      exempt: false;
      limit: number;
      windowMs: number;
      source: 'cap' | 'tier' | 'rule' | 'unlisted-tier';
    }
  | { exempt: true; source: 'tier' };

/** Whether `tier` names one of the rule's tiers: own properties only (`__proto__` is no tier). @internal */
export function hasTier(rule: RateLimitRule, tier: string): boolean {
  return rule.tiers !== undefined && Object.hasOwn(rule.tiers, tier);
}

/**
 * The one limit resolution: a per-key cap is the most specific limit there is and applies even
 * to an exempt tier; then the caller's tier; then the rule's limit. A tier the rule does not list
 * gets the rule's limit, reported as `unlisted-tier` so that callers naming a tier explicitly
 * (the admin API) can refuse it.
 * @internal
 */
export function resolveLimit(
  rule: RateLimitRule,
  tier: string | undefined,
  cap: KeyCap | undefined,
): AppliedLimit {
  if (cap)
    return {
      exempt: false,
      limit: cap.limit,
      windowMs: cap.windowMs ?? rule.windowMs,
      source: 'cap',
    };
  if (tier === undefined || rule.tiers === undefined) {
    return { exempt: false, limit: rule.limit, windowMs: rule.windowMs, source: 'rule' };
  }
  if (!hasTier(rule, tier))
    return { exempt: false, limit: rule.limit, windowMs: rule.windowMs, source: 'unlisted-tier' };
  const value = rule.tiers[tier];
  if (value === 'exempt') return { exempt: true, source: 'tier' };
  return { exempt: false, limit: value, windowMs: rule.windowMs, source: 'tier' };
}

/** A weighted rule's classes, sorted by name, and its lowest-weight class (the default). */
interface Classes {
  weights: ReadonlyArray<readonly [string, number]>;
  fallback: string;
}

// Per rule object: a changed override is a new object, so the cache never goes stale.
const classesOf = new WeakMap<RateLimitRule, Classes>();

/**
 * The share a weighted rule's request is decided with: the rule's classes and weights, and the
 * caller's class (own properties only; `undefined` or an unlisted class gets the lowest-weight
 * class, the first by name among equals). `undefined` for other algorithms.
 * @internal
 */
export function resolveShare(rule: RateLimitRule, cls: string | undefined): ShareInput | undefined {
  if (rule.algorithm !== 'weighted-token-bucket' || rule.classes === undefined) return undefined;
  let classes = classesOf.get(rule);
  if (classes === undefined) {
    const weights = Object.entries(rule.classes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const fallback = weights.reduce((low, entry) => (entry[1] < low[1] ? entry : low))[0];
    classes = { weights, fallback };
    classesOf.set(rule, classes);
  }
  const known = cls !== undefined && Object.hasOwn(rule.classes, cls);
  return { weights: classes.weights, cls: known ? cls : classes.fallback };
}
