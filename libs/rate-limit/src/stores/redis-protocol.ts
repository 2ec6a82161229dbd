import { encodeShares } from '../algorithms/weighted-token-bucket.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';

/**
 * The one description of how TypeScript talks to `lua/consume.lua`: the arguments of a call
 * and the reply. `RedisStore` and the test helpers both encode and decode here.
 *
 *   KEYS  one state key per rule
 *   ARGV  now ('' in production: the script reads Redis TIME), charge ('1' | '0'), then six
 *         fields per rule: algorithm, limit, window (ms), cost, enforce ('1' | '0'), extra
 *         (see `extraArgument`)
 *   reply admitted (1 | 0), now (epoch ms), then four fields per rule: allowed (1 | 0),
 *         remaining, reset at (epoch ms), retry after (ms; 0 allowed, -1 never)
 *
 * A change of this layout changes `CONSUME_PROTOCOL`, and with it the name the script is
 * defined under, so instances of two versions never call each other's script.
 * @internal
 */
export const CONSUME_PROTOCOL = 1;

/** The ioredis command `consume.lua` is defined as. @internal */
export const CONSUME_COMMAND = `rateLimitConsumeV${CONSUME_PROTOCOL}`;

const FIELDS_PER_RULE = 6;
const REPLY_HEAD = 2;
const REPLY_PER_RULE = 4;

/**
 * The per-rule argument only some algorithms read: the concurrency lease, or the weighted
 * bucket's classes and the request's class.
 * @internal
 */
export function extraArgument(call: RuleCall): string {
  if (call.algorithm === 'concurrency') return call.leaseId ?? '';
  if (call.algorithm === 'weighted-token-bucket' && call.share) return encodeShares(call.share);
  return '';
}

/** ARGV of one call, as strings. @internal */
export function encodeArgv(
  calls: readonly RuleCall[],
  now: number | undefined,
  charge: boolean,
): string[] {
  const argv: string[] = [];
  pushArgv(argv, calls, now, charge);
  return argv;
}

/** `numKeys, ...KEYS, ...ARGV`, as a defined ioredis command takes them. @internal */
export function encodeConsume(
  calls: readonly RuleCall[],
  now: number | undefined,
  charge: boolean,
): [number, ...string[]] {
  const args: [number, ...string[]] = [calls.length];
  for (const call of calls) args.push(call.key);
  pushArgv(args, calls, now, charge);
  return args;
}

/** Appends ARGV: `now`, `charge`, then `FIELDS_PER_RULE` fields per call, in this order. */
function pushArgv(
  out: unknown[],
  calls: readonly RuleCall[],
  now: number | undefined,
  charge: boolean,
): void {
  out.push(now === undefined ? '' : String(now), charge ? '1' : '0');
  for (const c of calls) {
    const before = out.length;
    out.push(
      c.algorithm,
      String(c.limit),
      String(c.windowMs),
      String(c.cost),
      c.enforce ? '1' : '0',
      extraArgument(c),
    );
    if (out.length - before !== FIELDS_PER_RULE) {
      throw new Error('consume protocol: six fields per rule');
    }
  }
}

/** The script's reply for `count` rules. @internal */
export function decodeReply(reply: readonly number[], count: number): StoreResult {
  if (reply.length !== REPLY_HEAD + count * REPLY_PER_RULE) {
    throw new Error(
      `consume protocol: expected ${REPLY_HEAD + count * REPLY_PER_RULE} reply fields, got ${reply.length}`,
    );
  }
  const outcomes = [];
  for (let i = 0; i < count; i++) {
    const at = REPLY_HEAD + i * REPLY_PER_RULE;
    outcomes.push({
      allowed: reply[at] === 1,
      remaining: reply[at + 1],
      resetAtMs: reply[at + 2],
      retryAfterMs: reply[at + 3],
    });
  }
  return { now: reply[1], outcomes };
}
