import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { CONCERNS, type ConfigConcern, type Fields } from './config-codec.js';

/** One concern's hash and the version it was read at (`null`: never written). @internal */
export interface ConfigRead {
  fields: Fields;
  version: string | null;
}

/**
 * Where the runtime configuration lives: Redis (shared by every instance) or this process.
 * @internal
 */
export interface ConfigBackend {
  /** Whether other instances see the writes. */
  readonly shared: boolean;
  read(concern: ConfigConcern): Promise<ConfigRead>;
  /** The current version of every concern. */
  versions(): Promise<Partial<Record<ConfigConcern, string>>>;
  /** Sets and removes fields of one concern and stamps a new version, atomically. */
  write(concern: ConfigConcern, set: Fields, remove: string[]): Promise<void>;
  /** Calls `onChange` when another writer announces a change (best effort: callers also poll). */
  watch(onChange: (concern: ConfigConcern) => void): void;
  close(): Promise<void>;
}

/** Keys of the runtime configuration under a key prefix. @internal */
export function configKeys(prefix: string) {
  // One hash tag for all of them: MULTI can read a concern and its version together on a cluster.
  const base = `${prefix}:{cfg}`;
  return {
    concern: (concern: ConfigConcern) => `${base}:${concern}`,
    version: `${base}:version`,
    channel: `${base}:changed`,
  };
}

/** Without Redis: the configuration of this one instance. @internal */
export class MemoryConfigBackend implements ConfigBackend {
  readonly shared = false;
  private readonly hashes = new Map<ConfigConcern, Map<string, string>>(
    CONCERNS.map((c) => [c, new Map()]),
  );
  private readonly stamps = new Map<ConfigConcern, string>();

  async read(concern: ConfigConcern): Promise<ConfigRead> {
    const fields = Object.fromEntries(this.hashes.get(concern)!);
    return { fields, version: this.stamps.get(concern) ?? null };
  }

  async versions(): Promise<Partial<Record<ConfigConcern, string>>> {
    return Object.fromEntries(this.stamps);
  }

  async write(concern: ConfigConcern, set: Fields, remove: string[]): Promise<void> {
    const hash = this.hashes.get(concern)!;
    for (const [field, value] of Object.entries(set)) hash.set(field, value);
    for (const field of remove) hash.delete(field);
    this.stamps.set(concern, randomUUID());
  }

  watch(): void {}

  async close(): Promise<void> {}
}

/**
 * In Redis: one hash per concern, a version hash whose fields get a fresh random stamp on every
 * write (so a Redis that lost its data can never replay an old version number), and a pub/sub
 * channel announcing which concern changed.
 * @internal
 */
export class RedisConfigBackend implements ConfigBackend {
  readonly shared = true;
  private readonly keys: ReturnType<typeof configKeys>;
  private subscriber?: Redis | Cluster;

  constructor(
    private readonly client: Redis | Cluster,
    prefix: string,
  ) {
    this.keys = configKeys(prefix);
  }

  async read(concern: ConfigConcern): Promise<ConfigRead> {
    const tx = this.client
      .multi()
      .hgetall(this.keys.concern(concern))
      .hget(this.keys.version, concern);
    const [fields, version] = unwrap(await tx.exec()) as [Fields, string | null];
    return { fields, version };
  }

  async versions(): Promise<Partial<Record<ConfigConcern, string>>> {
    return this.client.hgetall(this.keys.version);
  }

  async write(concern: ConfigConcern, set: Fields, remove: string[]): Promise<void> {
    const key = this.keys.concern(concern);
    const tx = this.client.multi();
    if (Object.keys(set).length > 0) tx.hset(key, set);
    if (remove.length > 0) tx.hdel(key, ...remove);
    tx.hset(this.keys.version, concern, randomUUID());
    unwrap(await tx.exec());
    // Instances that miss this message catch up on their next poll of the version hash.
    await this.client.publish(this.keys.channel, concern).catch(() => undefined);
  }

  watch(onChange: (concern: ConfigConcern) => void): void {
    // A connection of its own: a subscribed connection cannot run commands. It queues the
    // SUBSCRIBE until connected and ioredis subscribes again after every reconnect.
    const subscriber =
      this.client instanceof Cluster
        ? this.client.duplicate(undefined, { enableOfflineQueue: true })
        : // No retry limit either: ioredis re-subscribes on its own after each reconnect, and a
          // limit of 0 (the decision client's) rejected that internal call, unhandled.
          this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      const concern = message as ConfigConcern;
      if (channel === this.keys.channel && CONCERNS.includes(concern)) onChange(concern);
    });
    subscriber.subscribe(this.keys.channel).catch(() => undefined);
    this.subscriber = subscriber;
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}

function unwrap(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (replies === null) throw new Error('Redis discarded the transaction');
  for (const [error] of replies) if (error) throw error;
  return replies.map(([, value]) => value);
}
