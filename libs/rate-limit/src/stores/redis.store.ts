import type { Cluster, Redis, Result } from 'ioredis';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { RateLimitStore } from './rate-limit.store.js';
import { encodeShares } from '../algorithms/weighted-token-bucket.js';
import { findLuaDir, loadLuaScripts } from './lua-scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rateLimitConsume(numKeys: number, ...keysAndArgs: Array<string | number>): Result<number[], Context>;
  }
}

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

/**
 * State in Redis: one `EVALSHA` of `lua/consume.lua` per decision, whatever the number of rules.
 * ioredis's defined commands fall back to `EVAL` on `NOSCRIPT`, so a Redis restart or
 * `SCRIPT FLUSH` costs one extra round trip and no failed request.
 * @publicApi
 */
export class RedisStore extends RateLimitStore {
  readonly kind = 'redis' as const;

  constructor(
    readonly client: Redis | Cluster,
    luaDir?: string,
  ) {
    super();
    for (const script of loadLuaScripts(findLuaDir(luaDir))) {
      if (!(script.name in client)) client.defineCommand(script.name, { lua: script.lua });
    }
  }

  /** Whether the connection is up and ready for commands (ioredis fails commands fast otherwise). */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** One round trip, for health checks. */
  async ping(): Promise<void> {
    await this.client.ping();
  }

  /**
   * A decision over no rules: proves that the script runs (reloading it if Redis lost it) and
   * that Redis accepts it (a Redis at `maxmemory` refuses the script whole), writing nothing.
   */
  async probe(): Promise<void> {
    await this.run([], undefined, false);
  }

  consume(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.run(calls, now, true);
  }

  peek(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.run(calls, now, false);
  }

  async reset(keys: string[]): Promise<void> {
    // One DEL per key: keys of different identities may live in different cluster slots.
    await Promise.all(keys.map((key) => this.client.del(key)));
  }

  async release(key: string, leaseId: string): Promise<void> {
    await this.client.zrem(key, leaseId);
  }

  private async run(calls: RuleCall[], now: number | undefined, charge: boolean): Promise<StoreResult> {
    const args: Array<string | number> = [calls.length];
    for (const call of calls) args.push(call.key);
    args.push(now === undefined ? '' : now, charge ? '1' : '0');
    for (const call of calls) {
      const extra = extraArgument(call);
      args.push(call.algorithm, call.limit, call.windowMs, call.cost, call.enforce ? '1' : '0', extra);
    }
    const reply = await this.client.rateLimitConsume(...(args as [number, ...Array<string | number>]));
    return {
      now: reply[1],
      outcomes: calls.map((_, i) => ({
        allowed: reply[2 + i * 4] === 1,
        remaining: reply[3 + i * 4],
        resetAtMs: reply[4 + i * 4],
        retryAfterMs: reply[5 + i * 4],
      })),
    };
  }
}
