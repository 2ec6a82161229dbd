import type { Redis, Result } from 'ioredis';
import { findLuaDir, loadLuaScripts } from '../../libs/rate-limit/src/stores/lua-scripts.js';
import type { RuleCall, StoreResult } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import {
  decodeReply,
  encodeArgv,
  encodeKeys,
} from '../../libs/rate-limit/src/stores/redis-protocol.js';

/**
 * One store call of a batch: a decision (`charge` false: a peek; `refundOf`: the refund of the
 * charge decided at that time) or the end of a lease.
 */
export type BatchOp =
  | { calls: RuleCall[]; now: number; charge: boolean; refundOf?: number }
  | { release: { key: string; leaseId: string } };

/** Added to every TTL the script sets: far longer than any test runs. */
const REAL_TTL_GRACE_MS = 600_000;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rateLimitConsumeBatch(
      numKeys: number,
      ...keysAndArgs: Array<string | number>
    ): Result<unknown[], Context>;
  }
}

/**
 * Runs the production `consume.lua`, text unchanged, several times inside ONE script execution,
 * with each call's `now` on a fake clock.
 *
 * - Redis expires keys on its real clock but never during a script, so state written at fake time
 *   t is still there when the next call of the batch reads it, however short its TTL. One store
 *   call per step instead loses such state now and then (a 1 ms TTL outlived by a scheduling
 *   hiccup), which makes fake-clock comparisons flaky.
 * - Expiry then follows the fake clock, as the memory store's does and as Redis's does in
 *   production (where `now` is Redis's own clock): every PEXPIRE or SET PX the script issues is
 *   recorded as `now + ttl`, and a key whose recorded expiry has come is deleted before the next
 *   call reads it. A TTL the script gets wrong therefore changes later decisions, as it would in
 *   production.
 * - Redis itself gets each TTL plus a grace, so its real clock never removes anything the fake
 *   one still holds. That also sidesteps a Redis 7.0 race: PEXPIRE 1 deletes the key at once
 *   when a millisecond boundary falls between the two clock readings of the command (about 3 in
 *   10 000 calls; 7.2 reads the clock once).
 */
export class ConsumeBatch {
  constructor(private readonly client: Redis) {
    const [consume] = loadLuaScripts(findLuaDir());
    const lua = [
      'local function consume(KEYS, ARGV, redis)',
      consume.body,
      'end',
      'local real = redis',
      `local REAL_TTL_GRACE_MS = ${REAL_TTL_GRACE_MS}`,
      'local expires = {}',
      'local function recording(now)',
      '  return setmetatable({',
      '    call = function(...)',
      '      local args = {...}',
      '      local name = string.upper(args[1])',
      '      local ttl_at = nil',
      "      if name == 'PEXPIRE' then ttl_at = 3 end",
      "      if name == 'SET' then",
      '        for a = 4, #args - 1 do',
      "          if string.upper(tostring(args[a])) == 'PX' then ttl_at = a + 1 end",
      '        end',
      '      end',
      '      if ttl_at then',
      '        expires[args[2]] = now + tonumber(args[ttl_at])',
      '        args[ttl_at] = tonumber(args[ttl_at]) + REAL_TTL_GRACE_MS',
      '      end',
      '      return real.call(unpack(args))',
      '    end,',
      '  }, { __index = real })',
      'end',
      'local replies = {}',
      'for i, op in ipairs(cjson.decode(ARGV[1])) do',
      '  if op.release then',
      "    real.call('ZREM', KEYS[op.key], op.release)",
      '    replies[i] = {}',
      '  else',
      '    local now = tonumber(op.argv[1])',
      '    local keys = {}',
      '    for j, k in ipairs(op.keys) do',
      '      keys[j] = KEYS[k]',
      '      if expires[keys[j]] ~= nil and expires[keys[j]] <= now then',
      "        real.call('DEL', keys[j])",
      '        expires[keys[j]] = nil',
      '      end',
      '    end',
      '    replies[i] = consume(keys, op.argv, recording(now))',
      '  end',
      'end',
      'return replies',
    ].join('\n');
    const name: string = 'rateLimitConsumeBatch';
    if (!(name in client)) client.defineCommand(name, { lua });
  }

  /** Results in order; a release answers `null`. */
  async run(ops: BatchOp[]): Promise<Array<StoreResult | null>> {
    const keys: string[] = [];
    const slot = (key: string) => {
      const found = keys.indexOf(key);
      if (found >= 0) return found + 1;
      keys.push(key);
      return keys.length;
    };
    const encoded = ops.map((op) => {
      if ('release' in op) return { release: op.release.leaseId, key: slot(op.release.key) };
      // The ARGV RedisStore sends, encoded by the same module.
      return {
        keys: encodeKeys(op.calls).map(slot),
        argv: encodeArgv(op.calls, op.now, op.charge, op.refundOf),
      };
    });
    const json = JSON.stringify(encoded);
    const replies = await this.client.rateLimitConsumeBatch(keys.length, ...keys, json);
    return ops.map((op, i) => {
      if ('release' in op) return null;
      return decodeReply(replies[i] as number[], op.calls.length);
    });
  }
}
