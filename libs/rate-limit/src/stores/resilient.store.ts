import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import CircuitBreaker from 'opossum';
import { StoreUnavailableError, type StoreErrorCode } from '../errors/index.js';
import type { BreakerOptions, FailureMode } from '../interfaces/index.js';
import {
  REDIS_BACK,
  REDIS_CIRCUIT_OPEN,
  REDIS_COMMAND_FAILED,
  REDIS_OUT_OF_MEMORY,
  REDIS_UNREACHABLE_AT_START,
  STORE_LISTENER_FAILED,
  STORE_UNAVAILABLE,
} from '../rate-limit.messages.js';
import { DenyCache } from './deny-cache.js';
import type { MemoryStore } from './memory.store.js';
import { RateLimitStore, type RuleCall, type StoreResult } from './rate-limit.store.js';
import { classifyRedisError, isOutOfMemory } from './redis-errors.js';
import type { RedisStore } from './redis.store.js';

/** The circuit breaker's state. @publicApi */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What answered a decision: Redis, or the failure mode. @publicApi */
export type DecisionSource = 'redis' | FailureMode;

/** The Redis side the breaker guards: a `RedisStore`, or a stand-in with the same surface. @publicApi */
export type GuardedStore = Pick<
  RedisStore,
  'consume' | 'peek' | 'reset' | 'release' | 'refund' | 'probe' | 'connected'
>;

/** Settings of a `ResilientStore`; the module builds them from its resolved options. @publicApi */
export interface ResilientStoreOptions {
  failureMode: FailureMode;
  /** In `memory` mode, each limit is divided by this (the number of instances). */
  fallbackDivisor: number;
  breaker: Readonly<Required<BreakerOptions>>;
  /** Clock of the `open` mode's answers. @default Date.now */
  clock?: () => number;
  /**
   * While decisions are made without Redis and the breaker is closed (Redis unreachable at boot,
   * or a failure too isolated to open it), Redis is probed this often, so decisions move back
   * to Redis with no request needed. @default 1000 (ms)
   */
  probeIntervalMs?: number;
  /**
   * Where this instance remembers what Redis denied until when (see `DenyCache`); the module
   * shares it with the runtime configuration, which clears it on every change.
   * @default a cache of its own
   */
  denyCache?: DenyCache;
}

/** Counters since start (monotonic, for metrics) and opossum's rolling window. @publicApi */
export interface ResilientStoreStats {
  state: BreakerState;
  /**
   * Decisions (`consume`) answered by Redis, or by this instance from a denial Redis gave
   * earlier that nothing can end before its time (`cachedDenials`).
   */
  redisDecisions: number;
  /** The part of `redisDecisions` answered from the deny cache, without a Redis call. */
  cachedDenials: number;
  /**
   * Decisions answered by the failure mode: decided in memory, admitted (`open`) or refused with
   * 503 (`closed`).
   */
  fallbackDecisions: number;
  /** Redis calls that failed or timed out (decisions, admin calls and probes). */
  storeErrors: number;
  /** The part of `storeErrors` that timed out. */
  timeouts: number;
  /**
   * The part of `storeErrors` that Redis answered with an error about the call's own keys
   * (`WRONGTYPE`, an error raised by the script): that request was decided by the failure mode,
   * the breaker did not count it, and every other key kept deciding on Redis.
   */
  commandErrors: number;
  /** Calls not sent to Redis because the breaker was open. */
  shortCircuited: number;
  /** Times the breaker opened, failed half-open probes included. */
  opened: number;
  /** opossum's counts over the last `rollingCountTimeoutMs`. */
  window: { fires: number; successes: number; failures: number; timeouts: number; rejects: number };
}

/**
 * Payloads of the events a `ResilientStore` emits. Listeners run synchronously on the request
 * path: keep them cheap. A listener that throws is logged and ignored.
 * @publicApi
 */
export interface ResilientStoreEvents {
  /**
   * The breaker changed state: `open` (Redis failing, the failure mode decides), `half-open`
   * (one PING probes Redis), `closed` (decisions on Redis again).
   * @event ResilientStore#stateChange
   */
  stateChange: { state: BreakerState; previous: BreakerState };
  /**
   * A decision was answered; `source` is `redis` or the failure mode that answered instead.
   * @event ResilientStore#decision
   */
  decision: { source: DecisionSource; durationMs: number };
  /**
   * A Redis call failed (`ESTORE`), timed out (`ESTORETIMEOUT`) or was answered with an error
   * about its own keys (`ECOMMAND`). Short-circuited calls are not errors.
   * @event ResilientStore#storeError
   */
  storeError: { code: Exclude<StoreErrorCode, 'EBREAKEROPEN'>; error: unknown };
}

type Action = () => Promise<unknown>;

/** opossum's own errors carry these codes; anything else came from Redis. */
function codeOf(error: unknown): StoreErrorCode {
  if (!(error instanceof Error) || !CircuitBreaker.isOurError(error)) {
    return classifyRedisError(error) === 'command' ? 'ECOMMAND' : 'ESTORE';
  }
  // EOPENBREAKER, ESHUTDOWN and ESEMLOCKED all mean the call never reached Redis.
  return (error as Error & { code?: string }).code === 'ETIMEDOUT'
    ? 'ESTORETIMEOUT'
    : 'EBREAKEROPEN';
}

/** Distinct keys whose command errors are logged before the list starts over. */
const LOGGED_KEYS_MAX = 1_000;

/**
 * The Redis store behind an opossum circuit breaker, with a failure mode for when Redis cannot
 * answer: every Redis call has a timeout, enough failures over the rolling window open the
 * breaker, and while it is open decisions never wait for Redis. After `resetTimeoutMs` one probe
 * (a keyless call of the decision script) tests Redis; its success closes the breaker and
 * decisions are on Redis again, without waiting for a request to risk the probe. Whenever a
 * decision was made without Redis while the breaker stayed closed, the same probe runs every
 * `probeIntervalMs` until Redis decides again.
 *
 * An error Redis returns about one call's keys (`WRONGTYPE`, an error raised by the script) is
 * that request's problem, not an outage: the request is decided by the failure mode, the key is
 * logged once, and the breaker does not count it.
 *
 * `kind` is `redis` while Redis answers and `memory` whenever decisions are made without it (by
 * the in-memory store, or by the `open`/`closed` modes).
 *
 * @fires ResilientStore#stateChange
 * @fires ResilientStore#decision
 * @fires ResilientStore#storeError
 * @publicApi
 */
export class ResilientStore extends RateLimitStore implements OnModuleDestroy {
  private readonly breaker: CircuitBreaker<[Action], unknown>;
  private readonly events = new EventEmitter();
  private readonly logger = new Logger('RateLimit');
  private readonly failureMode: FailureMode;
  private readonly divisor: number;
  private readonly clock: () => number;
  private readonly counts = {
    redisDecisions: 0,
    cachedDenials: 0,
    fallbackDecisions: 0,
    storeErrors: 0,
    timeouts: 0,
    shortCircuited: 0,
    opened: 0,
    commandErrors: 0,
  };
  private lastAnswer: 'redis' | 'fallback';
  private reportedState: BreakerState = 'closed';
  /** Set while an outage has been logged, so one outage logs one warning. */
  private outageLogged: boolean;
  private oomLogged = false;
  private readonly probeIntervalMs: number;
  private prober?: NodeJS.Timeout;
  private probing = false;
  private readonly loggedKeys = new Set<string>();
  /** What Redis denied until when. */
  readonly denials: DenyCache;

  constructor(
    /** The Redis store the breaker guards. */
    readonly redis: GuardedStore,
    private readonly memory: MemoryStore,
    options: ResilientStoreOptions,
  ) {
    super();
    this.failureMode = options.failureMode;
    this.divisor = options.fallbackDivisor;
    this.clock = options.clock ?? Date.now;
    const { breaker } = options;
    // opossum writes its defaults into the object it is given: it gets a fresh one.
    this.breaker = new CircuitBreaker((action: Action) => action(), {
      name: 'rate-limit-redis',
      timeout: breaker.timeoutMs,
      resetTimeout: breaker.resetTimeoutMs,
      errorThresholdPercentage: breaker.errorThresholdPercentage,
      volumeThreshold: breaker.volumeThreshold,
      rollingCountTimeout: breaker.rollingCountTimeoutMs,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // Redis answered: a bad key is no reason to stop deciding on Redis for every other key.
      errorFilter: (error: unknown) => classifyRedisError(error) === 'command',
    });
    this.breaker.on('open', () => this.transition('open'));
    this.breaker.on('halfOpen', () => {
      this.transition('half-open');
      this.probe();
    });
    this.breaker.on('close', () => this.transition('closed'));
    this.probeIntervalMs = options.probeIntervalMs ?? 1_000;
    this.denials = options.denyCache ?? new DenyCache({ clock: this.clock });
    this.outageLogged = !redis.connected;
    this.lastAnswer = redis.connected ? 'redis' : 'fallback';
    if (this.outageLogged) {
      this.logger.warn(REDIS_UNREACHABLE_AT_START(this.failureMode));
      this.startProbing();
    }
  }

  /** `redis` while decisions are made on Redis; `memory` while the failure mode decides. */
  get kind(): 'redis' | 'memory' {
    const onRedis = this.state === 'closed' && this.lastAnswer === 'redis' && this.redis.connected;
    return onRedis ? 'redis' : 'memory';
  }

  /** Whether decisions are currently made without Redis. */
  get degraded(): boolean {
    return this.kind !== 'redis';
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    return this.breaker.halfOpen ? 'half-open' : 'closed';
  }

  get stats(): ResilientStoreStats {
    const { fires, successes, failures, timeouts, rejects } = this.breaker.stats;
    return {
      state: this.state,
      ...this.counts,
      window: { fires, successes, failures, timeouts, rejects },
    };
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof ResilientStoreEvents>(
    event: E,
    listener: (payload: ResilientStoreEvents[E]) => void,
  ): () => void {
    this.events.on(event, listener);
    return () => this.events.off(event, listener);
  }

  consume(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.decide(calls, now, true);
  }

  peek(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.decide(calls, now, false);
  }

  /** Resets both stores; fails with `StoreUnavailableError` when Redis could not be reset. */
  async reset(keys: string[]): Promise<void> {
    this.denials.forget(keys);
    await this.memory.reset(keys);
    await this.viaBreaker(() => this.redis.reset(keys));
  }

  async release(key: string, leaseId: string): Promise<void> {
    await this.memory.release(key, leaseId);
    // A lease Redis cannot release expires with its window; an error here would only add noise.
    await this.viaBreaker(() => this.redis.release(key, leaseId)).catch(() => undefined);
  }

  /**
   * Refunds on Redis; while Redis cannot answer, in the fallback memory (what the fallback
   * charged). A charge one store took and the other refunds, across the start or end of an
   * outage, gives one unit too many or too few for that window; nothing is ever refunded twice.
   */
  async refund(calls: RuleCall[], chargedAt: number, now?: number): Promise<StoreResult> {
    // A refund may end a remembered denial early.
    this.denials.forget(calls.map((call) => call.key));
    try {
      return await this.viaBreaker(() => this.redis.refund(calls, chargedAt, now));
    } catch (error) {
      if (this.failureMode !== 'memory') throw error;
      return this.memory.refund(
        calls.map((call) => this.shrink(call)),
        chargedAt,
        now,
      );
    }
  }

  /**
   * Runs `operation` on Redis through the breaker and never answers by the failure mode: fails
   * with `StoreUnavailableError` when Redis cannot answer. For answers that must come from the
   * shared state or not at all (admin inspect and reset).
   */
  redisOnly<T>(operation: (redis: GuardedStore) => Promise<T>): Promise<T> {
    return this.viaBreaker(() => operation(this.redis));
  }

  onModuleDestroy(): void {
    this.stopProbing();
    this.breaker.shutdown();
    this.events.removeAllListeners();
  }

  private async decide(
    calls: RuleCall[],
    now: number | undefined,
    charge: boolean,
  ): Promise<StoreResult> {
    // Timed only for a `decision` listener: unobserved, a decision costs no clock reads here.
    const started = this.events.listenerCount('decision') > 0 ? performance.now() : undefined;
    // A test's fake clock is not this process's: only real-time decisions use the cache.
    const cached = charge && now === undefined ? this.denials.lookup(calls) : undefined;
    if (cached) {
      this.counts.redisDecisions++;
      this.counts.cachedDenials++;
      if (started !== undefined)
        this.emit('decision', { source: 'redis', durationMs: performance.now() - started });
      return cached;
    }
    let result: StoreResult;
    try {
      result = await this.viaBreaker(() =>
        charge ? this.redis.consume(calls, now) : this.redis.peek(calls, now),
      );
    } catch (error) {
      const unavailable = error as StoreUnavailableError;
      if (unavailable.code === 'ECOMMAND') {
        this.logCommandError(calls, unavailable.cause);
      } else {
        this.lastAnswer = 'fallback';
        this.startProbing();
      }
      if (charge) {
        this.counts.fallbackDecisions++;
        if (started !== undefined) {
          this.emit('decision', {
            source: this.failureMode,
            durationMs: performance.now() - started,
          });
        }
      }
      return this.withoutRedis(calls, now, charge, unavailable);
    }
    this.backOnRedis();
    if (charge) {
      if (now === undefined) this.denials.remember(calls, result);
      this.counts.redisDecisions++;
      if (started !== undefined)
        this.emit('decision', { source: 'redis', durationMs: performance.now() - started });
    }
    return result;
  }

  private withoutRedis(
    calls: RuleCall[],
    now: number | undefined,
    charge: boolean,
    error: StoreUnavailableError,
  ): Promise<StoreResult> {
    switch (this.failureMode) {
      case 'memory': {
        const shrunk = calls.map((call) => this.shrink(call));
        return charge ? this.memory.consume(shrunk, now) : this.memory.peek(shrunk, now);
      }
      case 'open': {
        const at = now ?? this.clock();
        // Nothing is counted against any budget, so every rule reports its whole limit.
        const outcomes = calls.map((call) => ({
          allowed: true,
          remaining: call.limit,
          resetAtMs: at + call.windowMs,
          retryAfterMs: 0,
        }));
        return Promise.resolve({ now: at, outcomes });
      }
      case 'closed':
        return Promise.reject(error);
    }
  }

  /**
   * Each of N instances keeps 1/N of the limit, so the fleet stays near it while each decides
   * alone; never below the request's cost, so a request that fits the rule stays admissible.
   */
  private shrink(call: RuleCall): RuleCall {
    if (this.divisor === 1) return call;
    const share = Math.floor(call.limit / this.divisor);
    return { ...call, limit: Math.min(call.limit, Math.max(call.cost, share)) };
  }

  /** Runs a Redis call through the breaker; failures come out as `StoreUnavailableError`. */
  private async viaBreaker<T>(action: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(action)) as T;
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EBREAKEROPEN') {
        this.counts.shortCircuited++;
      } else {
        this.counts.storeErrors++;
        if (code === 'ESTORETIMEOUT') this.counts.timeouts++;
        if (code === 'ECOMMAND') this.counts.commandErrors++;
        if (isOutOfMemory(error) && !this.oomLogged) {
          this.oomLogged = true;
          this.logger.error(REDIS_OUT_OF_MEMORY(this.failureMode));
        }
        this.emit('storeError', { code, error });
      }
      throw new StoreUnavailableError(code, STORE_UNAVAILABLE, { cause: error });
    }
  }

  /** The half-open slot goes to a probe, so no request ever waits on one. */
  private probe(): void {
    this.viaBreaker(() => this.redis.probe()).catch(() => undefined);
  }

  /**
   * Probes until Redis decides again. While the breaker is open its own half-open probe does the
   * work; this covers the closed breaker, which no failure count will ever reopen on an idle app.
   */
  private startProbing(): void {
    if (this.prober) return;
    this.prober = setInterval(() => {
      if (this.probing || this.breaker.opened || this.breaker.halfOpen) return;
      this.probing = true;
      this.viaBreaker(() => this.redis.probe())
        .then(() => this.backOnRedis())
        .catch(() => undefined)
        .finally(() => (this.probing = false));
    }, this.probeIntervalMs);
    this.prober.unref();
  }

  private stopProbing(): void {
    if (this.prober) clearInterval(this.prober);
    this.prober = undefined;
  }

  private backOnRedis(): void {
    this.lastAnswer = 'redis';
    this.stopProbing();
    this.endOutage();
  }

  /** Once per key (a bounded memory of keys): a key kept broken must not flood the log. */
  private logCommandError(calls: RuleCall[], cause: unknown): void {
    const keys = calls.map((call) => call.key).join(' ');
    if (this.loggedKeys.has(keys)) return;
    if (this.loggedKeys.size >= LOGGED_KEYS_MAX) this.loggedKeys.clear();
    this.loggedKeys.add(keys);
    this.logger.error(REDIS_COMMAND_FAILED(keys, this.failureMode, cause));
  }

  private transition(state: BreakerState): void {
    const previous = this.reportedState;
    this.reportedState = state;
    if (state === 'open') {
      this.counts.opened++;
      if (!this.outageLogged) {
        this.outageLogged = true;
        this.logger.warn(REDIS_CIRCUIT_OPEN(this.failureMode));
      }
    } else if (state === 'closed') {
      // The probe that closed the breaker was answered by Redis.
      this.backOnRedis();
    }
    this.emit('stateChange', { state, previous });
  }

  private endOutage(): void {
    this.oomLogged = false;
    if (!this.outageLogged) return;
    this.outageLogged = false;
    this.logger.log(REDIS_BACK);
  }

  private emit<E extends keyof ResilientStoreEvents>(
    event: E,
    payload: ResilientStoreEvents[E],
  ): void {
    if (this.events.listenerCount(event) === 0) return;
    try {
      this.events.emit(event, payload);
    } catch (error) {
      this.logger.error(STORE_LISTENER_FAILED(event, error));
    }
  }
}
