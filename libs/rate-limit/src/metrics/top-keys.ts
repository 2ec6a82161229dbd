import { keyHash } from './throttle-log.js';

/** A caller among the most throttled of a rule: its hashed identity and its denials. @publicApi */
export interface TopKey {
  /** The identity hashed as in the throttle log lines, never the IP or API key itself. */
  key: string;
  denied: number;
}

/** Sizing of the tracker. @internal */
export interface TopKeysOptions {
  /** Seconds looked back. @default 60 */
  windowSeconds?: number;
  /** Callers tracked per rule and second; beyond that the least denied is replaced. @default 32 */
  keysPerSecond?: number;
  /** @default Date.now */
  clock?: () => number;
  /** Key of the HMAC that hashes identities, the throttle log's, so the two name callers alike. */
  secret: string;
}

/**
 * A caller's denials in one second. `inherited` is what it took over from the caller it replaced:
 * `count - inherited` is what it surely had.
 */
interface Entry {
  count: number;
  inherited: number;
}

/** One second of denials of one rule: a Space-Saving summary of at most `keysPerSecond` callers. */
interface Bucket {
  second: number;
  entries: Map<string, Entry>;
}

/** Identities longer than this are kept as their hash, so a huge API key cannot bloat the memory. */
const MAX_IDENTITY_LENGTH = 256;
/** Marks a stored hash; no identity starts with a NUL. */
const HASHED = '\0';

/**
 * The most throttled callers of each rule over the last minute, for `GET /admin/stats`, in
 * bounded memory: a ring of per-second buckets per rule, each a Space-Saving summary (when a
 * bucket is full, the least denied caller is replaced and its count inherited). Any caller with
 * more than 1/`keysPerSecond` of a second's denials is kept. Reported counts leave out what was
 * inherited, so they never overstate: exact until a second sees more callers than it tracks, a
 * lower bound after. Memory is rules x `windowSeconds` x `keysPerSecond` entries, whatever the
 * traffic. Identities are hashed when read, so a flood of denials costs a map update each.
 * @internal
 */
export class TopKeys {
  private readonly windowSeconds: number;
  private readonly keysPerSecond: number;
  private readonly clock: () => number;
  private readonly secret: string;
  private readonly rings = new Map<string, Bucket[]>();

  constructor(options: TopKeysOptions) {
    this.secret = options.secret;
    this.windowSeconds = options.windowSeconds ?? 60;
    this.keysPerSecond = options.keysPerSecond ?? 32;
    this.clock = options.clock ?? Date.now;
  }

  /** Counts one denial of `identity` by `rule`. */
  record(rule: string, identity: string): void {
    const second = Math.floor(this.clock() / 1000);
    const bucket = this.bucket(rule, second);
    const id =
      identity.length > MAX_IDENTITY_LENGTH ? HASHED + keyHash(this.secret, identity) : identity;
    const entry = bucket.entries.get(id);
    if (entry) {
      entry.count++;
      return;
    }
    if (bucket.entries.size < this.keysPerSecond) {
      bucket.entries.set(id, { count: 1, inherited: 0 });
      return;
    }
    let least = '';
    let min = Infinity;
    for (const [key, { count }] of bucket.entries) {
      if (count < min) {
        min = count;
        least = key;
      }
    }
    bucket.entries.delete(least);
    bucket.entries.set(id, { count: min + 1, inherited: min });
  }

  /** The `limit` most denied callers of `rule` over the window, most denied first. */
  top(rule: string, limit = 10): TopKey[] {
    const ring = this.rings.get(rule);
    if (!ring) return [];
    const oldest = Math.floor(this.clock() / 1000) - this.windowSeconds + 1;
    const totals = new Map<string, number>();
    for (const bucket of ring) {
      if (bucket.second < oldest) continue;
      for (const [id, { count, inherited }] of bucket.entries) {
        totals.set(id, (totals.get(id) ?? 0) + count - inherited);
      }
    }
    return [...totals]
      .filter(([, denied]) => denied > 0)
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      .slice(0, limit)
      .map(([id, denied]) => ({
        key: id.startsWith(HASHED) ? id.slice(1) : keyHash(this.secret, id),
        denied,
      }));
  }

  private bucket(rule: string, second: number): Bucket {
    let ring = this.rings.get(rule);
    if (!ring) {
      ring = Array.from({ length: this.windowSeconds }, () => ({ second: -1, entries: new Map() }));
      this.rings.set(rule, ring);
    }
    const bucket = ring[second % this.windowSeconds];
    if (bucket.second !== second) {
      bucket.second = second;
      bucket.entries.clear();
    }
    return bucket;
  }
}
