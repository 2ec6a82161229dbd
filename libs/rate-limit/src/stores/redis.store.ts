import type { Cluster, Redis } from 'ioredis';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { RateLimitStore } from './rate-limit.store.js';
import { findLuaDir, loadLuaScripts } from './lua-scripts.js';
import { blockKey } from './redis-keys.js';
import { CONSUME_COMMAND, decodeReply, encodeConsume } from './redis-protocol.js';
import { WriteCoalescer } from './write-coalescer.js';

type ConsumeCommand = (numKeys: number, ...keysAndArgs: string[]) => Promise<number[]>;

/**
 * State in Redis: one `EVALSHA` of `lua/consume.lua` per decision, whatever the number of rules.
 * ioredis's defined commands fall back to `EVAL` on `NOSCRIPT`, so a Redis restart or
 * `SCRIPT FLUSH` costs one extra round trip and no failed request. The decisions sent in one
 * event-loop turn share one socket write (`WriteCoalescer`); each is still its own script call.
 * @publicApi
 */
export class RedisStore extends RateLimitStore {
  readonly kind = 'redis' as const;
  private readonly writes: WriteCoalescer;

  constructor(
    readonly client: Redis | Cluster,
    luaDir?: string,
  ) {
    super();
    this.writes = new WriteCoalescer(client);
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

  /** Forgets the state and any block of each key. */
  async reset(keys: string[]): Promise<void> {
    // One DEL per key: keys of different identities may live in different cluster slots (a
    // key and its block share one).
    await Promise.all(keys.map((key) => this.client.del(key, blockKey(key))));
  }

  refund(calls: RuleCall[], chargedAt: number, now?: number): Promise<StoreResult> {
    return this.run(calls, now, false, chargedAt);
  }

  async release(key: string, leaseId: string): Promise<void> {
    await this.client.zrem(key, leaseId);
  }

  private async run(
    calls: RuleCall[],
    now: number | undefined,
    charge: boolean,
    refundOf?: number,
  ): Promise<StoreResult> {
    const command = (this.client as unknown as Record<string, ConsumeCommand>)[CONSUME_COMMAND];
    this.writes.hold();
    const reply = await command.apply(this.client, encodeConsume(calls, now, charge, refundOf));
    return decodeReply(reply, calls.length);
  }
}
