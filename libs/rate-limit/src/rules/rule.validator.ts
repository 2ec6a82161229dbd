import { ALGORITHM_NAMES, subUnits } from '../algorithms/index.js';
import { RateLimitConfigError } from '../errors/index.js';
import type { Algorithm, KeySource, RateLimitRule, RuleInput } from '../interfaces/index.js';
import { BOUNDS } from '../rate-limit.constants.js';
import { INVALID_RULE } from '../rate-limit.messages.js';
import { parseDuration } from './duration.js';

const KEY_SOURCES: readonly KeySource[] = ['ip', 'api-key', 'user', 'route', 'global'];

/** @internal An integer within bounds, or a reason it is not. */
export function checkInteger(
  value: unknown,
  bounds: { min: number; max: number },
): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer';
  if (value < bounds.min || value > bounds.max)
    return `must be between ${bounds.min} and ${bounds.max}`;
  return undefined;
}

const RULE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

const CLASS_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * A weighted bucket's classes: valid names and weights, and counts small enough to be exact (the
 * script counts in sub-units: limit x total weight x window / gcd(limit, window) below 2^53).
 */
function validateClasses(
  input: RuleInput,
  windowMs: number,
  fail: (field: string, why: string) => never,
): void {
  const weighted = input.algorithm === 'weighted-token-bucket';
  if (!weighted) {
    if (input.classes !== undefined)
      fail('classes', 'is only for the weighted-token-bucket algorithm');
    if (input.class !== undefined) fail('class', 'is only for the weighted-token-bucket algorithm');
    return;
  }
  const classes = input.classes;
  if (
    classes === undefined ||
    classes === null ||
    typeof classes !== 'object' ||
    Object.keys(classes).length === 0
  ) {
    fail('classes', 'must name at least one class and its weight, e.g. { high: 3, low: 1 }');
  }
  let total = 0;
  for (const [name, weight] of Object.entries(classes!)) {
    if (!CLASS_NAME.test(name))
      fail(`classes.${name}`, 'must be named with 1 to 32 of A-Z a-z 0-9 _ -');
    const problem = checkInteger(weight, { min: 1, max: 1000 });
    if (problem) fail(`classes.${name}`, problem);
    total += weight;
  }
  if (Object.keys(classes!).length > 1 && typeof input.class !== 'function') {
    fail('class', "must be a function naming the caller's class when there are several classes");
  }
  let a = input.limit;
  let b = windowMs;
  while (b > 0) [a, b] = [b, a % b];
  if ((input.limit * total * windowMs) / a > Number.MAX_SAFE_INTEGER) {
    fail(
      'classes',
      'limit x total weight x window is too large to count exactly: lower one of them',
    );
  }
}

/**
 * Turns a rule as written into a validated rule, or throws `RateLimitConfigError` naming
 * `where` (e.g. `ApiController.getPublic`) and the field.
 * @internal
 */
export function validateRule(input: RuleInput, where: string, defaultName: string): RateLimitRule {
  const fail = (field: string, why: string): never => {
    throw new RateLimitConfigError(INVALID_RULE(where, field, why), where, field);
  };
  if (input === null || typeof input !== 'object') fail('rule', 'must be an object');
  const name = input.name ?? defaultName;
  // The name travels in structured-field headers, admin URLs and metric labels: keep it to a safe token.
  if (typeof name !== 'string' || !RULE_NAME.test(name)) {
    fail('name', `must be 1 to 128 of A-Z a-z 0-9 . _ : -; got ${JSON.stringify(name)}`);
  }
  if (!ALGORITHM_NAMES.includes(input.algorithm)) {
    fail(
      'algorithm',
      `must be one of ${ALGORITHM_NAMES.join(', ')}; got ${JSON.stringify(input.algorithm)}`,
    );
  }
  const limitProblem = checkInteger(input.limit, BOUNDS.limit);
  if (limitProblem) fail('limit', limitProblem.replace('an integer', 'a positive integer'));
  let windowMs = 0;
  try {
    windowMs = parseDuration(input.window);
  } catch (error) {
    fail('window', (error as Error).message);
  }
  const windowProblem = checkInteger(windowMs, BOUNDS.windowMs);
  if (windowProblem) fail('window', `in ms ${windowProblem}`);
  const key = input.key;
  const keyOk =
    typeof key === 'function' ||
    (typeof key === 'string' && KEY_SOURCES.includes(key)) ||
    (Array.isArray(key) && key.length > 0 && key.every((k) => KEY_SOURCES.includes(k)));
  if (!keyOk)
    fail(
      'key',
      `must be one of ${KEY_SOURCES.join(', ')}, a non-empty list of them, or a function`,
    );
  const cost = input.cost ?? 1;
  if (typeof cost !== 'function') {
    const costProblem = checkInteger(cost, BOUNDS.cost);
    if (costProblem) fail('cost', costProblem);
    if (cost > input.limit)
      fail(
        'cost',
        `(${cost}) exceeds the limit (${input.limit}): no request could ever be admitted`,
      );
  }
  if (input.algorithm === 'concurrency' && cost !== 1)
    fail('cost', 'must be 1 for the concurrency algorithm');
  if (input.tiers !== undefined) {
    if (input.tiers === null || typeof input.tiers !== 'object')
      fail('tiers', 'must be an object of tier -> limit');
    for (const [tier, value] of Object.entries(input.tiers)) {
      if (value !== 'exempt' && checkInteger(value, BOUNDS.limit)) {
        fail(
          `tiers.${tier}`,
          `must be 'exempt' or an integer between ${BOUNDS.limit.min} and ${BOUNDS.limit.max}`,
        );
      }
    }
    if (typeof input.tier !== 'function')
      fail('tier', 'must be a function naming the caller\'s tier when "tiers" is set');
  } else if (input.tier !== undefined) {
    fail('tiers', 'must be set when "tier" is');
  }
  validateClasses(input, windowMs, fail);
  const mode = input.mode ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'dry-run') fail('mode', "must be 'enforce' or 'dry-run'");
  const policies = validatePolicies(input, fail);
  return Object.freeze({
    name,
    algorithm: input.algorithm,
    limit: input.limit,
    windowMs,
    key: Array.isArray(key) ? Object.freeze([...key]) : key,
    cost,
    tiers: input.tiers ? Object.freeze({ ...input.tiers }) : undefined,
    tier: input.tier,
    classes: input.classes ? Object.freeze({ ...input.classes }) : undefined,
    class: input.class,
    mode,
    ...policies,
  }) as RateLimitRule;
}

const SHAPED: readonly Algorithm[] = ['leaky-bucket', 'gcra'];
const NO_REFUND: readonly Algorithm[] = ['concurrency', 'weighted-token-bucket'];

/** `blockDuration`, `maxDelay` and `count`: only the ones set. */
function validatePolicies(
  input: RuleInput,
  fail: (field: string, why: string) => never,
): Pick<RateLimitRule, 'blockMs' | 'maxDelayMs' | 'count'> {
  const duration = (field: 'blockDuration' | 'maxDelay', max: number): number => {
    let ms = 0;
    try {
      ms = parseDuration(input[field]!);
    } catch (error) {
      fail(field, (error as Error).message);
    }
    const problem = checkInteger(ms, { min: 1, max });
    if (problem) fail(field, `in ms ${problem}`);
    return ms;
  };
  const out: Pick<RateLimitRule, 'blockMs' | 'maxDelayMs' | 'count'> = {};
  if (input.blockDuration !== undefined) {
    if (input.algorithm === 'concurrency')
      fail('blockDuration', 'cannot be used with the concurrency algorithm');
    out.blockMs = duration('blockDuration', BOUNDS.windowMs.max);
  }
  if (input.maxDelay !== undefined) {
    if (!SHAPED.includes(input.algorithm))
      fail('maxDelay', `is for ${SHAPED.join(' and ')} rules only`);
    out.maxDelayMs = duration('maxDelay', BOUNDS.windowMs.max);
    // The queue is counted in the algorithm's integer sub-units: it must stay exact.
    const { per, rate } = subUnits(input.limit, parseDuration(input.window));
    if (input.limit * per + out.maxDelayMs * rate > Number.MAX_SAFE_INTEGER) {
      fail('maxDelay', 'is too long for this limit and window to be counted exactly');
    }
  }
  const count = input.count;
  if (count !== undefined && count !== 'all') {
    if (count !== 'failures' && count !== 'successes' && typeof count !== 'function') {
      fail('count', "must be 'all', 'failures', 'successes' or a function of the status code");
    }
    if (NO_REFUND.includes(input.algorithm))
      fail('count', `cannot be used with the ${input.algorithm} algorithm: it has no refund`);
    out.count = count;
  }
  return out;
}

/** @internal Same settings (functions compared by identity): such rules may share one name and one budget. */
export function sameRule(a: RateLimitRule, b: RateLimitRule): boolean {
  return (
    a.algorithm === b.algorithm &&
    a.limit === b.limit &&
    a.windowMs === b.windowMs &&
    a.cost === b.cost &&
    a.mode === b.mode &&
    a.tier === b.tier &&
    a.blockMs === b.blockMs &&
    a.maxDelayMs === b.maxDelayMs &&
    (a.count ?? 'all') === (b.count ?? 'all') &&
    JSON.stringify(a.tiers) === JSON.stringify(b.tiers) &&
    JSON.stringify(a.classes) === JSON.stringify(b.classes) &&
    a.class === b.class &&
    (typeof a.key === 'function'
      ? a.key === b.key
      : JSON.stringify(a.key) === JSON.stringify(b.key))
  );
}
