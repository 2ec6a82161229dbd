import { encodeShares } from '../algorithms/weighted-token-bucket.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { blockKey } from './redis-keys.js';

/**
 * The one description of how TypeScript talks to `lua/consume.lua`: the arguments of a call
 * and the reply. `RedisStore` and the test helpers both encode and decode here.
 *
 *   KEYS  one state key per rule, then the block key (`blockKey`) of each rule with a block
 *         duration, in rule order
 *   ARGV  now ('' in production: the script reads Redis TIME), mode ('1' charge, '0' look,
 *         'r' refund), the refunded charge's time ('' unless refunding), then eight fields per
 *         rule: algorithm, limit, window (ms), cost, enforce ('1' | '0'), extra (see
 *         `extraArgument`), block (ms, 0 none), max delay (ms, 0 none)
 *   reply admitted (1 | 0), now (epoch ms), then four fields per rule: allowed (1 | 0),
 *         remaining, reset at (epoch ms), retry after (ms; denied: -1 never; admitted: the wait
 *         for a shaped slot, else 0)
 *
 * A change of this layout changes `CONSUME_PROTOCOL`, and with it the name the script is
 * defined under, so instances of two versions never call each other's script.
 * @internal
 */
export const CONSUME_PROTOCOL = 2;

/** The ioredis command `consume.lua` is defined as. @internal */
export const CONSUME_COMMAND = `rateLimitConsumeV${CONSUME_PROTOCOL}`;

const FIELDS_PER_RULE = 8;
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

/** KEYS of one call. @internal */
export function encodeKeys(calls: readonly RuleCall[]): string[] {
  const keys = calls.map((c) => c.key);
  for (const c of calls) if (c.blockMs) keys.push(blockKey(c.key));
  return keys;
}

/**
 * ARGV of one call, as strings. `refundOf`: the time of the charge to refund (the `now` its
 * `consume` answered); `charge` is then ignored.
 * @internal
 */
export function encodeArgv(
  calls: readonly RuleCall[],
  now: number | undefined,
  charge: boolean,
  refundOf?: number,
): string[] {
  const mode = refundOf !== undefined ? 'r' : charge ? '1' : '0';
  const argv = [
    now === undefined ? '' : String(now),
    mode,
    refundOf === undefined ? '' : String(refundOf),
  ];
  for (const c of calls) {
    const fields = [
      c.algorithm,
      String(c.limit),
      String(c.windowMs),
      String(c.cost),
      c.enforce ? '1' : '0',
      extraArgument(c),
      String(c.blockMs ?? 0),
      String(c.maxDelayMs ?? 0),
    ];
    if (fields.length !== FIELDS_PER_RULE)
      throw new Error('consume protocol: eight fields per rule');
    argv.push(...fields);
  }
  return argv;
}

/** `numKeys, ...KEYS, ...ARGV`, as a defined ioredis command takes them. @internal */
export function encodeConsume(
  calls: readonly RuleCall[],
  now: number | undefined,
  charge: boolean,
  refundOf?: number,
): [number, ...string[]] {
  const keys = encodeKeys(calls);
  return [keys.length, ...keys, ...encodeArgv(calls, now, charge, refundOf)];
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
