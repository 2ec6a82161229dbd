import type { OnModuleDestroy } from '@nestjs/common';
import { ALGORITHMS, type AlgorithmInput, type AlgorithmResult } from '../algorithms/index.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { RateLimitStore } from './rate-limit.store.js';
import { blockKey } from './redis-keys.js';

/** A block's state: its end (ms), kept under `blockKey` as the Redis script keeps it. */
interface Block {
  until: number;
}

interface Entry {
  state: unknown;
  expiresAt: number;
  /** The store's use count when the entry last moved to the most recently used end. */
  moved: number;
}

export interface MemoryStoreOptions {
  /** @default 100000 */
  maxKeys?: number;
  /** @default 10000 (ms); 0 disables the sweep. */
  sweepIntervalMs?: number;
  /** @default Date.now */
  clock?: () => number;
}

/**
 * State in this process: the same algorithms as the Lua scripts, answers identical to Redis for
 * the same (time, cost) sequence. Bounded: past `maxKeys` the least recently used keys (charged
 * or denied) are evicted, to within `maxKeys / 16` uses (a key used that recently is never the
 * one evicted); expired state is dropped on read and by a periodic sweep.
 * @publicApi
 */
export class MemoryStore extends RateLimitStore implements OnModuleDestroy {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  /** Uses an entry may go without moving to the recent end (0: every use moves it). */
  private readonly slack: number;
  private uses = 0;
  private readonly clock: () => number;
  private readonly sweeper?: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.maxKeys = options.maxKeys ?? 100_000;
    this.slack = Math.floor(this.maxKeys / 16);
    this.clock = options.clock ?? Date.now;
    const every = options.sweepIntervalMs ?? 10_000;
    if (every > 0) {
      this.sweeper = setInterval(() => this.sweep(), every);
      this.sweeper.unref();
    }
  }

  /** Keys currently held. */
  get size(): number {
    return this.entries.size;
  }

  async consume(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.decide(calls, now ?? this.clock(), true);
  }

  async peek(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.decide(calls, now ?? this.clock(), false);
  }

  /** Forgets the state and any block of each key. */
  async reset(keys: string[]): Promise<void> {
    for (const key of keys) {
      this.entries.delete(key);
      this.entries.delete(blockKey(key));
    }
  }

  async refund(calls: RuleCall[], chargedAt: number, now?: number): Promise<StoreResult> {
    return this.refundNow(calls, chargedAt, now ?? this.clock());
  }

  /** The refund of `RateLimitStore.refund`, synchronous like `decide`; then the state as a look. */
  refundNow(calls: RuleCall[], chargedAt: number, now: number): StoreResult {
    const outcomes = calls.map((call) => {
      const impl = ALGORITHMS[call.algorithm];
      if (impl.refund === undefined) throw new Error(`No refund for algorithm ${call.algorithm}`);
      const input = inputOf(call, now);
      const expiresAt = this.entries.get(call.key)?.expiresAt;
      const refunded = impl.refund(this.read(call.key, now), { ...input, chargedAt });
      if (refunded !== undefined) {
        const ttl = refunded.ttlMs;
        this.write(call.key, refunded.next, ttl === undefined ? expiresAt! : now + ttl);
      }
      const look = impl.decide(this.read(call.key, now), { ...input, cost: 0 });
      if (look.cleaned !== undefined) this.write(call.key, look.cleaned, now + look.ttlMs);
      return {
        allowed: true,
        remaining: look.remaining,
        resetAtMs: look.resetAtMs,
        retryAfterMs: 0,
      };
    });
    return { now, outcomes };
  }

  async release(key: string, leaseId: string): Promise<void> {
    const entry = this.entries.get(key);
    if (entry?.state instanceof Map) entry.state.delete(leaseId);
  }

  /** Synchronous, so a decision over several rules is atomic in this process. */
  decide(calls: RuleCall[], now: number, charge: boolean): StoreResult {
    const blocking: RuleCall[] = [];
    const results = calls.map((call): AlgorithmResult<unknown> => {
      const r = ALGORITHMS[call.algorithm].decide(this.read(call.key, now), inputOf(call, now));
      if (!call.blockMs) return r;
      const block = this.read(blockKey(call.key), now) as Block | undefined;
      if (block !== undefined && block.until > now) {
        // Denied whatever the algorithm says, until the later of the block's end and its own.
        const left = block.until - now;
        const retryAfterMs = r.allowed
          ? left
          : r.retryAfterMs < 0
            ? r.retryAfterMs
            : Math.max(r.retryAfterMs, left);
        const resetAtMs = Math.max(r.resetAtMs, block.until);
        return { ...r, allowed: false, remaining: 0, resetAtMs, retryAfterMs };
      }
      // A cost above the limit (-1) is the caller's error, not its pace: it starts no block.
      if (r.allowed || r.retryAfterMs < 0) return r;
      blocking.push(call);
      return {
        ...r,
        remaining: 0,
        resetAtMs: Math.max(r.resetAtMs, now + call.blockMs),
        retryAfterMs: Math.max(r.retryAfterMs, call.blockMs),
      };
    });
    const admitted = results.every((r, i) => r.allowed || !calls[i].enforce);
    if (charge) {
      for (const call of blocking) {
        const until = now + call.blockMs!;
        this.write(blockKey(call.key), { until } satisfies Block, until);
      }
      results.forEach((r, i) => {
        const { key, cost } = calls[i];
        // A cost of 0 only looks: like the Lua scripts, it neither creates state nor extends it.
        if (admitted && r.allowed && cost > 0) this.write(key, r.next, now + r.ttlMs);
        else if (r.cleaned !== undefined) this.write(key, r.cleaned, now + r.ttlMs);
        else this.touch(key);
      });
    }
    return {
      now,
      outcomes: results.map(({ allowed, remaining, resetAtMs, retryAfterMs }, i) => ({
        allowed,
        // Nothing was charged: admitting rules report what they still have.
        remaining: allowed && !(admitted && charge) ? remaining + calls[i].cost : remaining,
        resetAtMs,
        retryAfterMs,
      })),
    };
  }

  private read(key: string, now: number): unknown {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.state;
  }

  private write(key: string, state: unknown, expiresAt: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.entries.set(key, { state, expiresAt, moved: ++this.uses });
      if (this.entries.size > this.maxKeys) this.evictOldest();
      return;
    }
    entry.state = state;
    entry.expiresAt = expiresAt;
    this.used(key, entry);
  }

  /** Marks a key used without changing it, so a client kept denied is not evicted (and refilled) first. */
  private touch(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.used(key, entry);
  }

  /**
   * Moves a used key to the most recently used end of the Map (delete, then set), unless it
   * moved there within the last `slack` uses: a hot key then costs a field update, not a
   * re-insertion per decision, and since at most `2 * slack` keys can have moved past it, it
   * stays far from the front that eviction takes.
   */
  private used(key: string, entry: Entry): void {
    const uses = ++this.uses;
    if (uses - entry.moved <= this.slack) return;
    entry.moved = uses;
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  /**
   * Drops the least recently used keys, 1% of `maxKeys` at a time: every new walk of the Map
   * steps over the slots that earlier deletions left at its front, so evicting one key per write
   * made a flood of new keys several times slower.
   */
  private evictOldest(): void {
    const target = Math.max(1, this.maxKeys - Math.floor(this.maxKeys / 100));
    let excess = this.entries.size - target;
    for (const key of this.entries.keys()) {
      if (excess-- <= 0) break;
      this.entries.delete(key);
    }
  }

  /** Drops expired state. */
  sweep(now = this.clock()): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}

/** What an algorithm is given for a call. */
function inputOf(call: RuleCall, now: number): AlgorithmInput {
  return {
    limit: call.limit,
    windowMs: call.windowMs,
    cost: call.cost,
    now,
    leaseId: call.leaseId,
    share: call.share,
    maxDelayMs: call.maxDelayMs,
  };
}
