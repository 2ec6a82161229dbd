import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { RateLimitExceededError } from '../errors/index.js';
import type {
  ClientInfo,
  Decision,
  Duration,
  RateLimitRule,
  RuleDecision,
} from '../interfaces/index.js';
import { RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import { INVALID_COST, UNKNOWN_RULE } from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { parseDuration } from '../rules/duration.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { type ListHit, RuntimeConfig } from '../runtime/runtime-config.service.js';
import { MemoryStore } from '../stores/memory.store.js';
import { RateLimitStore, type RuleCall } from '../stores/rate-limit.store.js';
import { stateKeyFor, stateKeyHead } from '../stores/redis-keys.js';
import { ResilientStore } from '../stores/resilient.store.js';
import {
  type AppliedRule,
  buildDecision,
  costProblem,
  retryAfterSeconds,
  retryCapMs,
} from './decision.js';
import { DecisionEvents } from './decision-events.js';
import { namedIdentity } from './identity/index.js';
import { resolveLimit, resolveShare } from './limit-policy.js';
import { policyFields } from './rule-policies.js';

/** A rule by name (from `@RateLimit` or the module's `rules`), or a validated rule object. @publicApi */
export type RuleRef = string | RateLimitRule;

/** One rule's answer for one key. @publicApi */
export interface LimitResult extends RuleDecision {
  /** The identity whose budget was looked at, as the guard tracks it (`key=abc`, `ip=1.2.3.4`). */
  identity: string;
  /** Whole seconds until a retry could be admitted, as `Retry-After` would say; 0 when allowed. */
  retryAfter: number;
  /** The caller's tier is exempt from the rule: nothing was charged or tracked. */
  exempt: boolean;
}

/** Options of `RateLimiter.consume`. @publicApi */
export interface ConsumeOptions {
  /** Units to charge: a whole number from 0. @default 1 */
  cost?: number;
  /** The caller's tier, looked up in the rule's `tiers`. */
  tier?: string;
  /** A weighted rule's class for this caller (see the rule's `classes`). */
  class?: string;
}

/** Options of `RateLimiter.acquire`. @publicApi */
export interface AcquireOptions extends ConsumeOptions {
  /** Longest total wait before giving up with `RateLimitExceededError` (ms or `'30s'`). @default Infinity */
  maxWait?: Duration;
  /** Aborting rejects the wait at once with the signal's reason. */
  signal?: AbortSignal;
}

/** What `acquire` admitted, and how long it waited for it (ms). @publicApi */
export interface AcquireResult extends LimitResult {
  waitedMs: number;
}

/** One rule of an HTTP request, its functions already evaluated by the adapter. @internal */
export interface RuleRequest {
  rule: RateLimitRule;
  identity: string;
  tier?: string;
  /** A weighted rule's class, as its `class` function named it. */
  cls?: string;
  cost: number;
}

/** A held concurrency lease, to be released when the request ends. @internal */
export interface Lease {
  key: string;
  leaseId: string;
}

/** A rule charged for an admitted request, with the store call that charged it (for a refund). @internal */
export interface Charge {
  rule: RateLimitRule;
  call: RuleCall;
}

/**
 * What the core decided for a request. `now`: the store's time of the decision, which a refund
 * names; `charged`: the rules that charged an admitted request.
 * @internal
 */
export type Verdict =
  | { kind: 'listed'; hit: ListHit }
  | { kind: 'exempt' }
  | { kind: 'decided'; decision: Decision; now: number; leases: Lease[]; charged: Charge[] };

/** The parts of a rule's store calls that do not change from one request to the next. */
interface RuleFacts {
  /** `<prefix>:<rule>:<algorithm tag>:` of the rule's state keys. */
  head: string;
  enforce: boolean;
  policies: ReturnType<typeof policyFields>;
}

/** The pending sleep of `acquire`, woken early by an abort. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The limiter itself, without HTTP: given rules and a caller, what is the decision. The HTTP
 * guard, the admin API and your own code (queue workers, cron jobs, GraphQL resolvers) all call
 * it, so a rule spends one budget whoever spends it: a worker calling
 * `consume('writes', 'demo-pro')` and a request with `X-API-Key: demo-pro` share a state key.
 *
 * Keys are named as the admin API names them (see the README's admin section): the API key,
 * user id or IP for a rule keyed by one source, `ip=…|key=…` for a composite key, the
 * function's value for a rule keyed by a function.
 *
 * `consume` and `acquire` follow the module's failure mode while Redis is unavailable; `peek`
 * and `reset` answer from Redis or fail with `StoreUnavailableError`, never from the fallback.
 * @publicApi
 */
@Injectable()
export class RateLimiter {
  constructor(
    private readonly registry: RuleRegistry,
    private readonly runtime: RuntimeConfig,
    private readonly store: RateLimitStore,
    private readonly memory: MemoryStore,
    private readonly events: DecisionEvents,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /**
   * Per rule object: an override or a reload makes a new object, so nothing here goes stale, and
   * ad-hoc rule objects a caller drops are collected with their entry.
   */
  private readonly ruleFacts = new WeakMap<RateLimitRule, RuleFacts>();

  /**
   * Charges `cost` (default 1) to `key` under `rule` if the rule admits it. Under a shaped rule
   * (`maxDelay`) an admitted result may carry a `retryAfterMs` above 0: the wait for the slot it
   * reserved (`acquire` waits it).
   */
  async consume(rule: RuleRef, key: string, options: ConsumeOptions = {}): Promise<LimitResult> {
    return (await this.charge(rule, key, options)).result;
  }

  /** What `consume` would answer, without charging; from Redis only when Redis is configured. */
  async peek(
    rule: RuleRef,
    key: string,
    options: Pick<ConsumeOptions, 'tier' | 'class'> = {},
  ): Promise<LimitResult> {
    const found = this.rule(rule);
    const identity = this.identity(found, key);
    const limit = resolveLimit(found, options.tier, this.runtime.keyCap(found.name, identity));
    if (limit.exempt) return this.exemptResult(found, identity, 0);
    const call = this.call(found, identity, limit.limit, limit.windowMs, 0, options.class);
    const { outcomes } = await this.strict((store) => store.peek([call]));
    const applied: AppliedRule = {
      ...found,
      limit: limit.limit,
      windowMs: limit.windowMs,
      cost: 0,
    };
    return this.result(buildDecision([applied], outcomes).perRule[0], identity, found);
  }

  /** Forgets what `key` has spent under `rule`, on Redis first: nothing is reset unless Redis is. */
  async reset(rule: RuleRef, key: string): Promise<void> {
    const found = this.rule(rule);
    const stored = this.stateKey(found, this.identity(found, key));
    await this.strict((store) => store.reset([stored]));
    if (this.store instanceof ResilientStore) await this.memory.reset([stored]);
    // Every instance forgets the denials it remembered for a key, this one included.
    await this.strict(() => this.runtime.announceReset());
  }

  /**
   * Waits until `rule` admits `cost` for `key`, then charges it: each denial sleeps the wait the
   * store answered and asks again, so a worker never spins. Rejects with
   * `RateLimitExceededError` when the request can never be admitted or the next wait would pass
   * `maxWait`, and with the signal's reason when `signal` aborts.
   */
  async acquire(rule: RuleRef, key: string, options: AcquireOptions = {}): Promise<AcquireResult> {
    const maxWaitMs = options.maxWait === undefined ? Infinity : parseDuration(options.maxWait);
    let waitedMs = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const { result, verdict } = await this.charge(rule, key, options);
      if (result.allowed && result.retryAfterMs > 0 && verdict) {
        // A shaped slot: charged already, it is waited for, not asked again.
        const held = await this.holdSlot(verdict, result, waitedMs, maxWaitMs, options.signal);
        return { ...result, waitedMs: held };
      }
      if (result.allowed) return { ...result, waitedMs };
      if (result.retryAfterMs < 0 || waitedMs + result.retryAfterMs > maxWaitMs) {
        throw new RateLimitExceededError(result.rule, result.retryAfterMs, waitedMs);
      }
      // At least 1 ms, so a store answering 0 on a denial cannot make this loop spin.
      const pause = Math.max(1, result.retryAfterMs);
      await sleep(pause, options.signal);
      waitedMs += pause;
    }
  }

  /**
   * Decides every rule of one request at once (all-or-nothing), for adapters that evaluated the
   * rules' functions already: lists first (when `client` is given), then per-key caps and tiers,
   * then one store call. Throws what the store throws. `observe: false` keeps the decision out
   * of metrics and logs (the limiter's own bookkeeping, such as failed admin logins).
   * @internal
   */
  async decide(
    requests: readonly RuleRequest[],
    client?: ClientInfo,
    observe = true,
  ): Promise<Verdict> {
    const events = observe ? this.events : undefined;
    if (client) {
      const hit = this.runtime.access(client);
      if (hit) {
        events?.emit(
          'listed',
          requests.map((r) => r.rule),
          hit,
        );
        return { kind: 'listed', hit };
      }
    }
    const applied: AppliedRule[] = [];
    const sources: RateLimitRule[] = [];
    const calls: RuleCall[] = [];
    const identities: string[] = [];
    let leased = false;
    for (let i = 0; i < requests.length; i++) {
      const { rule, identity, tier, cls, cost } = requests[i];
      const problem = costProblem(cost);
      if (problem) throw new RangeError(INVALID_COST(rule.name, problem));
      const limit = resolveLimit(rule, tier, this.runtime.keyCap(rule.name, identity));
      if (limit.exempt) {
        events?.emit('exempt', rule);
        continue;
      }
      const call = this.call(rule, identity, limit.limit, limit.windowMs, cost, cls);
      if (call.leaseId !== undefined) leased = true;
      calls.push(call);
      applied.push({
        name: rule.name,
        algorithm: rule.algorithm,
        mode: rule.mode,
        blockMs: rule.blockMs,
        maxDelayMs: rule.maxDelayMs,
        limit: limit.limit,
        windowMs: limit.windowMs,
        cost,
      });
      sources.push(rule);
      identities.push(identity);
    }
    if (calls.length === 0) return { kind: 'exempt' };
    const started = performance.now();
    let result;
    try {
      result = await this.store.consume(calls);
    } catch (error) {
      events?.emit('failed', this.store.kind);
      throw error;
    }
    const decision = buildDecision(applied, result.outcomes);
    events?.emit(
      'decided',
      decision,
      identities,
      this.store.kind,
      (performance.now() - started) / 1000,
    );
    const leases: Lease[] = [];
    if (leased && decision.allowed) {
      for (let i = 0; i < calls.length; i++) {
        const { key, leaseId } = calls[i];
        if (leaseId !== undefined && result.outcomes[i].allowed) leases.push({ key, leaseId });
      }
    }
    const charged: Charge[] = [];
    if (decision.allowed) {
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i];
        if (result.outcomes[i].allowed && call.cost > 0) charged.push({ rule: sources[i], call });
      }
    }
    return { kind: 'decided', decision, now: result.now, leases, charged };
  }

  /**
   * Gives back what an admitted request was charged under these rules (`count`, or a shaped
   * request given up), `chargedAt` being its verdict's `now`.
   * @internal
   */
  async refund(charged: readonly Charge[], chargedAt: number): Promise<void> {
    if (charged.length > 0)
      await this.store.refund(
        charged.map((c) => c.call),
        chargedAt,
      );
  }

  /** Ends concurrency leases; a lease that cannot be released expires with its window. @internal */
  async release(leases: readonly Lease[]): Promise<void> {
    await Promise.all(leases.map((lease) => this.store.release(lease.key, lease.leaseId)));
  }

  private rule(ref: RuleRef): RateLimitRule {
    if (typeof ref !== 'string') return ref;
    const rule = this.registry.get(ref);
    if (!rule) throw new RangeError(UNKNOWN_RULE(ref));
    return rule;
  }

  private identity(rule: RateLimitRule, key: string): string {
    try {
      return namedIdentity(rule, key, this.options.ipv6Prefix);
    } catch (error) {
      throw new RangeError(`Rate-limit key ${JSON.stringify(key)} ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private cost(rule: RateLimitRule, cost: number | undefined): number {
    const value = cost ?? (typeof rule.cost === 'number' ? rule.cost : 1);
    const problem = costProblem(value);
    if (problem) throw new RangeError(INVALID_COST(rule.name, problem));
    return value;
  }

  private call(
    rule: RateLimitRule,
    identity: string,
    limit: number,
    windowMs: number,
    cost: number,
    cls?: string,
  ): RuleCall {
    const facts = this.facts(rule);
    // Every field set, in one order: calls of every rule share one object shape.
    return {
      key: stateKeyFor(facts.head, identity),
      algorithm: rule.algorithm,
      limit,
      windowMs,
      cost,
      enforce: facts.enforce,
      leaseId: rule.algorithm === 'concurrency' && cost > 0 ? randomUUID() : undefined,
      share: resolveShare(rule, cls),
      blockMs: facts.policies.blockMs,
      maxDelayMs: facts.policies.maxDelayMs,
      refundable: facts.policies.refundable,
    };
  }

  /** What a store call needs of a rule that is the same on every request, worked out once per rule object. */
  private facts(rule: RateLimitRule): RuleFacts {
    let facts = this.ruleFacts.get(rule);
    if (facts === undefined) {
      facts = {
        head: stateKeyHead(this.options.keyPrefix, rule.name, rule.algorithm),
        enforce: rule.mode === 'enforce',
        policies: policyFields(rule),
      };
      this.ruleFacts.set(rule, facts);
    }
    return facts;
  }

  /** `consume`, with the verdict a shaped `acquire` refunds from; no verdict when exempt. */
  private async charge(
    rule: RuleRef,
    key: string,
    options: ConsumeOptions,
  ): Promise<{ result: LimitResult; verdict?: Verdict & { kind: 'decided' } }> {
    const found = this.rule(rule);
    const identity = this.identity(found, key);
    const cost = this.cost(found, options.cost);
    const verdict = await this.decide([
      { rule: found, identity, tier: options.tier, cls: options.class, cost },
    ]);
    if (verdict.kind !== 'decided') return { result: this.exemptResult(found, identity, cost) };
    // A worker has no response to end a lease with: it ends when the rule's window does.
    return { result: this.result(verdict.decision.perRule[0], identity, found), verdict };
  }

  /**
   * Waits for a shaped slot already charged; the total wait passing `maxWait`, or an abort, gives
   * the slot back (refunded) and rejects. Answers the total wait.
   */
  private async holdSlot(
    verdict: Verdict & { kind: 'decided' },
    result: LimitResult,
    waitedMs: number,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const giveBack = () => this.refund(verdict.charged, verdict.now);
    if (waitedMs + result.retryAfterMs > maxWaitMs) {
      await giveBack();
      throw new RateLimitExceededError(result.rule, result.retryAfterMs, waitedMs);
    }
    try {
      await sleep(result.retryAfterMs, signal);
    } catch (reason) {
      await giveBack();
      throw reason;
    }
    return waitedMs + result.retryAfterMs;
  }

  private stateKey(rule: RateLimitRule, identity: string): string {
    return stateKeyFor(this.facts(rule).head, identity);
  }

  /** Redis through the breaker without the failure mode; the store itself without Redis. */
  private strict<T>(
    operation: (store: Pick<RateLimitStore, 'peek' | 'reset'>) => Promise<T>,
  ): Promise<T> {
    return this.store instanceof ResilientStore
      ? this.store.redisOnly(operation)
      : operation(this.store);
  }

  private result(rule: RuleDecision, identity: string, source: RateLimitRule): LimitResult {
    const cap = retryCapMs({ ...source, windowMs: rule.windowMs });
    const retryAfter = rule.allowed ? 0 : retryAfterSeconds(rule.retryAfterMs, cap);
    return { ...rule, identity, retryAfter, exempt: false };
  }

  private exemptResult(rule: RateLimitRule, identity: string, cost: number): LimitResult {
    return {
      rule: rule.name,
      algorithm: rule.algorithm,
      allowed: true,
      limit: Infinity,
      cost,
      windowMs: rule.windowMs,
      mode: rule.mode,
      remaining: Infinity,
      resetAtMs: 0,
      retryAfterMs: 0,
      identity,
      retryAfter: 0,
      exempt: true,
    };
  }
}
