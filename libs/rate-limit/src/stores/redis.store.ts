import type { Cluster, Redis } from 'ioredis';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { RateLimitStore } from './rate-limit.store.js';
import { findLuaDir, loadLuaScripts } from './lua-scripts.js';
import { blockKey } from './redis-keys.js';
import {
  CONSUME_COMMAND,
  type ConsumeRequest,
  decodeBatch,
  encodeBatch,
} from './redis-protocol.js';
import { WriteCoalescer } from './write-coalescer.js';

type ConsumeCommand = (numKeys: number, ...keysAndArgs: string[]) => Promise<unknown[]>;

/** A request waiting for the end of the event-loop turn, and its caller. */
interface Pending {
  request: ConsumeRequest;
  resolve: (result: StoreResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Requests decided by one script call at most. Small enough that a busy turn becomes several
 * calls, the first of them sent as soon as it fills: Redis then decides one batch while the app
 * reads the next requests or answers the last batch, where one large call kept each waiting on
 * the other (on the benchmark's Fastify path, 0.58 of the bare app's rate against 0.50 with
 * 100). Large enough that a call's own cost (the round trip, `TIME`) is shared by many requests.
 */
const MAX_BATCH = 16;

/**
 * The hash tag of a key (what Redis Cluster hashes), or the key: requests whose keys share it
 * share a slot, and one script call may touch them together.
 */
function slotOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/**
 * State in Redis, decided by `lua/consume.lua`. The decisions asked for in one event-loop turn
 * go to Redis together, as one `EVALSHA` per `MAX_BATCH` requests (per cluster hash tag): a
 * batch that fills leaves at once, the rest at the end of the turn. Whatever the number of
 * rules, each request is still decided atomically and all-or-nothing on its own, and an error
 * about one request's keys fails that request only. The calls sent at the end of a turn share
 * one socket write (`WriteCoalescer`). ioredis's defined commands
 * fall back to `EVAL` on `NOSCRIPT`, so a Redis restart or `SCRIPT FLUSH` costs one extra round
 * trip and no failed request. A call with an explicit `now` (tests' fake clocks) is sent alone.
 * @publicApi
 */
export class RedisStore extends RateLimitStore {
  readonly kind = 'redis' as const;
  private readonly writes: WriteCoalescer;
  private readonly cluster: boolean;
  /** This turn's requests, by slot (one group when not on a cluster). */
  private pending = new Map<string, Pending[]>();
  private flushScheduled = false;
  /** Numbers the groups of requests sent alone. */
  private alone = 0;

  constructor(
    readonly client: Redis | Cluster,
    luaDir?: string,
  ) {
    super();
    this.writes = new WriteCoalescer(client);
    this.cluster = 'nodes' in client;
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
    await this.send([], undefined);
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

  private run(
    calls: RuleCall[],
    now: number | undefined,
    charge: boolean,
    refundOf?: number,
  ): Promise<StoreResult> {
    const request: ConsumeRequest = { calls, charge, refundOf };
    if (now !== undefined) {
      return this.send([request], now).then(([result]) => {
        if (result instanceof Error) throw result;
        return result;
      });
    }
    return new Promise((resolve, reject) => {
      const slot = this.cluster ? this.clusterGroup(calls) : '';
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
      const group = this.pending.get(slot);
      if (group === undefined) this.pending.set(slot, [{ request, resolve, reject }]);
      else if (group.push({ request, resolve, reject }) >= MAX_BATCH) {
        // A full batch goes now: Redis decides it while this turn reads the next requests.
        this.pending.delete(slot);
        this.dispatch(group, true);
      }
    });
  }

  /**
   * The hash tag every key of these calls shares. Calls whose keys do not share one (Redis
   * refuses them with CROSSSLOT) get a group of their own, so their error is theirs alone.
   */
  private clusterGroup(calls: readonly RuleCall[]): string {
    if (calls.length === 0) return '';
    const slot = slotOf(calls[0].key);
    for (let i = 1; i < calls.length; i++) {
      if (slotOf(calls[i].key) !== slot) return `\u0000${this.alone++}`;
    }
    return slot;
  }

  /** Sends the rest of this turn's requests: one script call per slot. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    for (const group of groups.values()) this.dispatch(group);
  };

  /** `immediately`: written at once, not held for the turn's one write. */
  private dispatch(batch: Pending[], immediately = false): void {
    this.send(
      batch.map((p) => p.request),
      undefined,
      immediately,
    ).then(
      (results) => {
        for (let i = 0; i < batch.length; i++) {
          const result = results[i];
          if (result instanceof Error) batch[i].reject(result);
          else batch[i].resolve(result);
        }
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
  }

  private async send(
    requests: readonly ConsumeRequest[],
    now: number | undefined,
    immediately = false,
  ): Promise<Array<StoreResult | Error>> {
    const command = (this.client as unknown as Record<string, ConsumeCommand>)[CONSUME_COMMAND];
    if (!immediately) this.writes.hold();
    const reply = await command.apply(this.client, encodeBatch(requests, now));
    return decodeBatch(
      reply,
      requests.map((r) => r.calls.length),
    );
  }
}
