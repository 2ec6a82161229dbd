import type { Algorithm } from '../interfaces/index.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';

/**
 * Algorithms whose denial cannot end before its `retryAfter` by other requests: whatever the
 * other instances admit meanwhile only pushes it later. Absent: concurrency (a released lease
 * ends a denial at any moment) and the weighted token bucket (another class's spill can fill the
 * pool before the class's own refill would).
 */
const STEADY_DENIAL: ReadonlySet<Algorithm> = new Set<Algorithm>([
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
  'token-bucket',
  'leaky-bucket',
  'gcra',
]);

interface Denial {
  /** The calls Redis denied: a request matches only with the same calls, field by field. */
  calls: readonly RuleCall[];
  /** The answer Redis gave, as of `decidedAt` on Redis's clock. */
  result: StoreResult;
  /** This process's clock when Redis answered. */
  seenAt: number;
  /** This process's clock when a retry could be admitted. */
  until: number;
}

/** Settings of a `DenyCache`. @internal */
export interface DenyCacheOptions {
  /** Denials kept at most (the oldest go first). 0 disables the cache. @default 10000 */
  maxEntries?: number;
  /** Denials shorter than this are not worth remembering. @default 50 (ms) */
  minRetryMs?: number;
  /** @default Date.now */
  clock?: () => number;
}

/**
 * Remembers what Redis denied until when, so this instance answers a flood of denied requests
 * without a Redis call each: the same answer, with the times moved on. A request is answered from
 * the cache only when it names the same rule keys, limits, windows and costs; only enforced
 * denials of algorithms whose denial cannot end early are kept. Anything that may admit sooner
 * (a reset, a changed limit, a per-key cap, a list change) clears the cache.
 * @internal
 */
export class DenyCache {
  private readonly entries = new Map<string, Denial>();
  private readonly maxEntries: number;
  private readonly minRetryMs: number;
  private readonly clock: () => number;
  private hitCount = 0;

  constructor(options: DenyCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.minRetryMs = options.minRetryMs ?? 50;
    this.clock = options.clock ?? Date.now;
  }

  /** Requests answered from the cache since start. */
  get hits(): number {
    return this.hitCount;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached denial of these calls, its times moved to now; `undefined` to ask Redis. */
  lookup(calls: RuleCall[]): StoreResult | undefined {
    if (this.entries.size === 0) return undefined;
    const id = entryId(calls);
    const denial = this.entries.get(id);
    if (denial === undefined || !sameCalls(denial.calls, calls)) return undefined;
    const now = this.clock();
    if (now >= denial.until) {
      this.entries.delete(id);
      return undefined;
    }
    this.hitCount++;
    const elapsed = now - denial.seenAt;
    const outcomes = [];
    for (const outcome of denial.result.outcomes) {
      outcomes.push(
        outcome.allowed
          ? outcome
          : { ...outcome, retryAfterMs: Math.max(1, outcome.retryAfterMs - elapsed) },
      );
    }
    return { now: denial.result.now + elapsed, outcomes };
  }

  /** Keeps Redis's answer if it is a denial that no other request can end early. */
  remember(calls: RuleCall[], result: StoreResult): void {
    if (this.maxEntries === 0) return;
    // A refund (an outcome that does not count, a shaped request given up) ends it early.
    if (calls.some((call) => call.refundable)) return;
    let retryMs = 0;
    for (let i = 0; i < calls.length; i++) {
      const outcome = result.outcomes[i];
      if (outcome.allowed || !calls[i].enforce) continue;
      // A cost above the limit (-1) or a denial that ends early: ask Redis each time.
      if (outcome.retryAfterMs < 0 || !STEADY_DENIAL.has(calls[i].algorithm)) return;
      retryMs = Math.max(retryMs, outcome.retryAfterMs);
    }
    if (retryMs < this.minRetryMs) return;
    if (calls.some((call) => !STEADY_DENIAL.has(call.algorithm))) return;
    const now = this.clock();
    const id = entryId(calls);
    this.entries.delete(id);
    this.entries.set(id, { calls, result, seenAt: now, until: now + retryMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets the denials that involve any of these keys. */
  forget(keys: string[]): void {
    if (this.entries.size === 0) return;
    const forgotten = new Set(keys);
    for (const [id, denial] of this.entries) {
      if (denial.calls.some((call) => forgotten.has(call.key))) this.entries.delete(id);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Where the denial of these calls is kept: their keys. Calls with the same keys and other limits
 * share the slot (the later denial replaces the earlier one); `sameCalls` tells them apart.
 */
function entryId(calls: readonly RuleCall[]): string {
  if (calls.length === 1) return calls[0].key;
  let id = '';
  for (const call of calls) id += `${call.key}\u0000`;
  return id;
}

/** Same keys, algorithms, limits, windows, costs and modes: what a cached denial must match. */
function sameCalls(kept: readonly RuleCall[], calls: readonly RuleCall[]): boolean {
  if (kept.length !== calls.length) return false;
  for (let i = 0; i < calls.length; i++) {
    const a = kept[i];
    const b = calls[i];
    if (
      a.key !== b.key ||
      a.algorithm !== b.algorithm ||
      a.limit !== b.limit ||
      a.windowMs !== b.windowMs ||
      a.cost !== b.cost ||
      a.enforce !== b.enforce
    ) {
      return false;
    }
  }
  return true;
}
