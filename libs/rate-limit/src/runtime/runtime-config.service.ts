import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DenyCache } from '../stores/deny-cache.js';
import type { ClientInfo } from '../interfaces/index.js';
import { AccessList, type ListName } from '../lists/access-list.js';
import { REDIS_CLIENT, RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import { CONFIG_LOCAL, CONFIG_SYNC_FAILED, CONFIG_VALUE_IGNORED } from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import type { RedisClientHolder } from '../rate-limit.providers.js';
import { RuleRegistry, type RuleOverride } from '../rules/rule-registry.service.js';
import { type ConfigBackend, MemoryConfigBackend, RedisConfigBackend } from './config-backend.js';
import {
  CONCERNS,
  capField,
  type ConfigConcern,
  decodeKeyCaps,
  decodeLists,
  decodeRuleOverrides,
  encodeKeyCap,
  encodeRulePatch,
  type Fields,
  type KeyCap,
  listField,
  ruleFields,
} from './config-codec.js';

/**
 * How often each instance compares its configuration versions with Redis: the longest a missed
 * pub/sub message can delay a change.
 * @internal
 */
export const CONFIG_POLL_MS = 1_000;

/** Per-key caps kept at most (all rules together), so the hash stays a small config hash. @internal */
export const MAX_KEY_CAPS = 10_000;

/** Entries kept at most per list. @internal */
export const MAX_LIST_ENTRIES = 10_000;

/** A caller found on a list, and the identity that matched (`ip=…` or `key=…`). @publicApi */
export interface ListHit {
  list: ListName;
  id: string;
}

/**
 * The configuration operators change at runtime: rule overrides (applied to `RuleRegistry`),
 * per-key caps, and the allow and block lists. With Redis it is shared: every write goes to
 * Redis and is announced on pub/sub, and each instance also polls the versions every second, so
 * a change is in force everywhere within about a second and survives restarts. Without Redis it
 * belongs to this instance alone.
 * @publicApi
 */
@Injectable()
export class RuntimeConfig implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  private readonly backend: ConfigBackend;
  private readonly versions = new Map<ConfigConcern, string | null>();
  private caps = new Map<string, KeyCap>();
  private allow = new AccessList();
  private block = new AccessList();
  private loading: Promise<void> = Promise.resolve();
  /** Per concern, the load queued and not yet started: later notifications join it. */
  private readonly queued = new Map<ConfigConcern, Promise<void>>();
  private poller?: NodeJS.Timeout;
  private polling = false;
  private syncFailing = false;
  private closed = false;
  private loadCount = 0;

  constructor(
    private readonly registry: RuleRegistry,
    @Inject(REDIS_CLIENT) holder: RedisClientHolder,
    @Inject(RESOLVED_OPTIONS) options: ResolvedOptions,
    private readonly denials: DenyCache = new DenyCache(),
  ) {
    this.backend = holder.client
      ? new RedisConfigBackend(holder.client, options.keyPrefix)
      : new MemoryConfigBackend();
  }

  /** `true` when changes are stored in Redis and reach every instance; `false`: this instance only. */
  get shared(): boolean {
    return this.backend.shared;
  }

  /** After every rule is registered: read what Redis holds before the first request is served. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.backend.shared) {
      this.logger.log(CONFIG_LOCAL);
      return;
    }
    this.backend.watch((concern) => {
      this.reload(concern).catch((error: unknown) => this.syncFailed(error));
    });
    await this.poll();
    this.poller = setInterval(() => void this.poll(), CONFIG_POLL_MS);
    this.poller.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    await this.backend.close();
  }

  /** Which list names the caller (the blocklist first), if any. */
  access(client: ClientInfo): ListHit | undefined {
    const blocked = this.block.match(client);
    if (blocked !== undefined) return { list: 'block', id: blocked };
    const allowed = this.allow.match(client);
    return allowed === undefined ? undefined : { list: 'allow', id: allowed };
  }

  /** The per-key cap of `identity` (as the guard tracks it) under `rule`, if any. */
  keyCap(rule: string, identity: string): KeyCap | undefined {
    return this.caps.size === 0 ? undefined : this.caps.get(capField(rule, identity));
  }

  /** Every per-key cap of a rule, by identity. */
  keyCaps(rule: string): Array<{ key: string } & KeyCap> {
    const start = capField(rule, '');
    return [...this.caps]
      .filter(([field]) => field.startsWith(start))
      .map(([field, cap]) => ({ key: field.slice(start.length), ...cap }));
  }

  /** Entries of both lists, sorted. */
  lists(): Record<ListName, string[]> {
    return { allow: [...this.allow.entries], block: [...this.block.entries] };
  }

  /** Whether one more per-key cap fits (replacing an existing one always does). */
  canAddKeyCap(rule: string, identity: string): boolean {
    return this.caps.size < MAX_KEY_CAPS || this.caps.has(capField(rule, identity));
  }

  /** Whether one more entry fits on a list (an entry already there always does). */
  canAddToList(list: ListName, entry: string): boolean {
    const entries = this[list].entries;
    return entries.length < MAX_LIST_ENTRIES || entries.includes(entry);
  }

  /** Merges `patch` into the rule's override; properties left out keep their current value. */
  patchRule(name: string, patch: RuleOverride): Promise<void> {
    return this.write('rules', encodeRulePatch(name, patch), []);
  }

  /** Drops the rule's override: the static rule applies again. */
  dropRule(name: string): Promise<void> {
    return this.write('rules', {}, ruleFields(name));
  }

  /** Sets (or replaces) the cap of one identity under one rule. */
  setKeyCap(rule: string, identity: string, cap: KeyCap): Promise<void> {
    return this.write('keys', { [capField(rule, identity)]: encodeKeyCap(cap) }, []);
  }

  /** Drops a per-key cap: the identity gets the rule's limit again. */
  dropKeyCap(rule: string, identity: string): Promise<void> {
    return this.write('keys', {}, [capField(rule, identity)]);
  }

  /**
   * Tells every instance that a key's state was reset: each forgets the denials it remembered
   * (this one at once), so the key is decided on Redis again.
   */
  announceReset(): Promise<void> {
    this.denials.clear();
    return this.backend.shared ? this.write('resets', {}, []) : Promise.resolve();
  }

  /** Adds an entry made by `listEntry`. */
  addToList(list: ListName, entry: string): Promise<void> {
    return this.write('lists', { [listField(list, entry)]: '1' }, []);
  }

  /** Removes an entry made by `listEntry`; absent entries are no error. */
  removeFromList(list: ListName, entry: string): Promise<void> {
    return this.write('lists', {}, [listField(list, entry)]);
  }

  /**
   * Writes, then reads the concern back, so this instance answers with what every instance will
   * see. Only the write can fail the call: once it is in Redis the change is made, and a failed
   * read-back is left to the poll rather than reported as a change that did not happen.
   */
  private async write(concern: ConfigConcern, set: Fields, remove: string[]): Promise<void> {
    await this.backend.write(concern, set, remove);
    await this.reload(concern).catch((error: unknown) => this.syncFailed(error));
  }

  /** Re-reads the concerns whose version moved; one poll at a time. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const versions = await this.backend.versions();
      for (const concern of CONCERNS) {
        if (
          !this.versions.has(concern) ||
          this.versions.get(concern) !== (versions[concern] ?? null)
        ) {
          await this.reload(concern);
        }
      }
      this.syncFailing = false;
    } catch (error) {
      this.syncFailed(error);
    } finally {
      this.polling = false;
    }
  }

  /**
   * Loads run one after another, so an older read can never be applied after a newer one. A
   * burst of changes costs at most two loads per concern: a notification arriving while a load
   * is queued joins it, since that load has not read yet and will see the change.
   */
  private reload(concern: ConfigConcern): Promise<void> {
    const waiting = this.queued.get(concern);
    if (waiting) return waiting;
    const next = this.loading.then(() => {
      this.queued.delete(concern);
      return this.load(concern);
    });
    this.queued.set(concern, next);
    this.loading = next.catch(() => undefined);
    return next;
  }

  /** Loads of the configuration since start (for tests and diagnostics). */
  get loads(): number {
    return this.loadCount;
  }

  private async load(concern: ConfigConcern): Promise<void> {
    this.loadCount++;
    const { fields, version } = await this.backend.read(concern);
    // Any change may admit a key sooner than a denial remembered before it.
    this.denials.clear();
    const invalid = (field: string) => this.logger.warn(CONFIG_VALUE_IGNORED(concern, field));
    if (concern === 'rules') {
      const overrides = decodeRuleOverrides(fields, invalid);
      for (const { rule } of this.registry.list()) {
        this.registry.setOverride(rule.name, overrides.get(rule.name));
      }
    } else if (concern === 'keys') {
      this.caps = decodeKeyCaps(fields, invalid);
    } else if (concern === 'lists') {
      const lists = decodeLists(fields);
      this.allow = new AccessList(lists.allow);
      this.block = new AccessList(lists.block);
    }
    this.versions.set(concern, version);
  }

  /** Logged once per outage: the poll retries every second and would otherwise repeat it. */
  private syncFailed(error: unknown): void {
    // A poll cut short by shutdown is no outage.
    if (this.syncFailing || this.closed) return;
    this.syncFailing = true;
    this.logger.warn(CONFIG_SYNC_FAILED(error));
  }
}
