import { encodeShares } from '../algorithms/weighted-token-bucket.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { blockKey } from './redis-keys.js';

/**
 * The one description of how TypeScript talks to `lua/consume.lua`: the arguments of a call
 * and the reply. `RedisStore` and the test helpers both encode and decode here. One call decides
 * a batch of requests, each on its own (see the script's header):
 *
 *   KEYS  per request: one state key per rule, then the block key (`blockKey`) of each rule
 *         with a block duration, in rule order
 *   ARGV  now ('' in production: the script reads Redis TIME), then the batch as one JSON array
 *         with one array per request: mode ('1' charge, '0' look, 'r' refund), the refunded
 *         charge's time (0 unless refunding), then eight fields per rule: algorithm, limit,
 *         window (ms), cost, enforce (1 | 0), extra (see `extraArgument`), block (ms, 0 none),
 *         max delay (ms, 0 none)
 *   reply now (epoch ms), then per request an error reply (about that request's keys) or:
 *         admitted (1 | 0), then four fields per rule: allowed (1 | 0), remaining, reset at
 *         (epoch ms), retry after (ms; denied: -1 never; admitted: the wait for a shaped slot,
 *         else 0)
 *
 * A change of this layout changes `CONSUME_PROTOCOL`, and with it the name the script is
 * defined under, so instances of two versions never call each other's script.
 * @internal
 */
export const CONSUME_PROTOCOL = 4;

/** The ioredis command `consume.lua` is defined as. @internal */
export const CONSUME_COMMAND = `rateLimitConsumeV${CONSUME_PROTOCOL}`;

/** One request of a batch. `refundOf`: the time of the charge to refund; `charge` is then ignored. @internal */
export interface ConsumeRequest {
  calls: readonly RuleCall[];
  charge: boolean;
  refundOf?: number;
}

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

/** KEYS of one request. @internal */
export function encodeKeys(calls: readonly RuleCall[]): string[] {
  const keys: string[] = [];
  pushKeys(keys, calls);
  return keys;
}

function pushKeys(keys: string[], calls: readonly RuleCall[]): void {
  for (let i = 0; i < calls.length; i++) keys.push(calls[i].key);
  for (let i = 0; i < calls.length; i++) if (calls[i].blockMs) keys.push(blockKey(calls[i].key));
}

/**
 * One request's fields. The batch travels as one JSON argument, which the script decodes with
 * Redis's built-in cjson: ioredis's cost per command argument (flattening, measuring, framing
 * each) was the largest part of the client's work for a batch of hundreds of fields.
 */
function requestFields(request: ConsumeRequest): Array<string | number> {
  const { calls, refundOf } = request;
  const fields: Array<string | number> = [
    refundOf !== undefined ? 'r' : request.charge ? '1' : '0',
    refundOf ?? 0,
  ];
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    fields.push(
      c.algorithm,
      c.limit,
      c.windowMs,
      c.cost,
      c.enforce ? 1 : 0,
      extraArgument(c),
      c.blockMs ?? 0,
      c.maxDelayMs ?? 0,
    );
  }
  return fields;
}

/**
 * ARGV of a batch of one request. `refundOf`: the time of the charge to refund (the `now` its
 * `consume` answered); `charge` is then ignored.
 * @internal
 */
export function encodeArgv(
  calls: readonly RuleCall[],
  now: number | undefined,
  charge: boolean,
  refundOf?: number,
): string[] {
  return [
    now === undefined ? '' : String(now),
    JSON.stringify([requestFields({ calls, charge, refundOf })]),
  ];
}

/** `numKeys, ...KEYS, ...ARGV` of a batch, as a defined ioredis command takes them. @internal */
export function encodeBatch(
  requests: readonly ConsumeRequest[],
  now: number | undefined,
): [number, ...string[]] {
  const keys: string[] = [];
  const batch: Array<Array<string | number>> = [];
  for (const request of requests) {
    pushKeys(keys, request.calls);
    batch.push(requestFields(request));
  }
  const args: [number, ...string[]] = [keys.length];
  for (let i = 0; i < keys.length; i++) args.push(keys[i]);
  args.push(now === undefined ? '' : String(now), JSON.stringify(batch));
  return args;
}

/**
 * The script's reply for requests of these numbers of rules: per request in order, its result
 * or the error Redis raised about its keys (an `Error`, as ioredis hands nested error replies
 * over).
 * @internal
 */
export function decodeBatch(
  reply: readonly unknown[],
  ruleCounts: readonly number[],
): Array<StoreResult | Error> {
  if (reply.length !== 1 + ruleCounts.length) {
    throw new Error(
      `consume protocol: expected ${1 + ruleCounts.length} replies, got ${reply.length}`,
    );
  }
  const now = reply[0] as number;
  const results: Array<StoreResult | Error> = [];
  for (let r = 0; r < ruleCounts.length; r++) {
    const answer = reply[r + 1];
    if (answer instanceof Error) {
      results.push(answer);
      continue;
    }
    results.push(decodeRequest(answer as readonly number[], now, ruleCounts[r]));
  }
  return results;
}

function decodeRequest(fields: readonly number[], now: number, count: number): StoreResult {
  if (fields.length !== 1 + count * REPLY_PER_RULE) {
    throw new Error(
      `consume protocol: expected ${1 + count * REPLY_PER_RULE} reply fields, got ${fields.length}`,
    );
  }
  const outcomes = [];
  for (let i = 0; i < count; i++) {
    const at = 1 + i * REPLY_PER_RULE;
    outcomes.push({
      allowed: fields[at] === 1,
      remaining: fields[at + 1],
      resetAtMs: fields[at + 2],
      retryAfterMs: fields[at + 3],
    });
  }
  return { now, outcomes };
}

/** The reply of a batch of one request for `count` rules; an error about its keys is thrown. @internal */
export function decodeReply(reply: readonly unknown[], count: number): StoreResult {
  const [result] = decodeBatch(reply, [count]);
  if (result instanceof Error) throw result;
  return result;
}
