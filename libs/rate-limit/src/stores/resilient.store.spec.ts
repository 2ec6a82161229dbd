import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { createHook } from 'node:async_hooks';
import { StoreUnavailableError } from '../errors/index.js';
import type { BreakerOptions, FailureMode } from '../interfaces/index.js';
import { MemoryStore } from './memory.store.js';
import type { RuleCall, StoreResult } from './rate-limit.store.js';
import { ResilientStore, type GuardedStore, type ResilientStoreEvents } from './resilient.store.js';

/** What ioredis raises for an error reply of the server. */
class ReplyError extends Error {
  override name = 'ReplyError';
}

/** Waits on the global timer functions, which the fake clock drives. */
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Stands in for RedisStore: answers from a real MemoryStore while `health` is `ok`, rejects at
 * once (`down`, like ioredis without a connection; `oom`, like a Redis at maxmemory) or answers
 * late (`stalled`, like a frozen server). Keys in `broken` get the error Redis gives for a key
 * of the wrong type.
 */
class FakeRedis implements GuardedStore {
  health: 'ok' | 'down' | 'stalled' | 'oom' = 'ok';
  stallMs = 400;
  decisions = 0;
  pings = 0;
  readonly broken = new Set<string>();
  private readonly state = new MemoryStore({ sweepIntervalMs: 0 });

  get connected(): boolean {
    return this.health === 'ok';
  }

  consume(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.answer(() => {
      if (calls.some((c) => this.broken.has(c.key))) {
        throw new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
      }
      this.decisions++;
      return this.state.consume(calls, now);
    });
  }

  peek(calls: RuleCall[], now?: number): Promise<StoreResult> {
    return this.answer(() => this.state.peek(calls, now));
  }

  reset(keys: string[]): Promise<void> {
    return this.answer(() => this.state.reset(keys));
  }

  release(key: string, leaseId: string): Promise<void> {
    return this.answer(() => this.state.release(key, leaseId));
  }

  refund(calls: RuleCall[], chargedAt: number, now?: number): Promise<StoreResult> {
    return this.answer(() => this.state.refund(calls, chargedAt, now));
  }

  probe(): Promise<void> {
    this.pings++;
    return this.answer(async () => undefined);
  }

  private async answer<T>(fn: () => Promise<T>): Promise<T> {
    if (this.health === 'down')
      throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    if (this.health === 'oom')
      throw new ReplyError("OOM command not allowed when used memory > 'maxmemory'.");
    if (this.health === 'stalled') await wait(this.stallMs);
    return fn();
  }
}

const BREAKER: Required<BreakerOptions> = {
  timeoutMs: 50,
  resetTimeoutMs: 60_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 3,
  rollingCountTimeoutMs: 10_000,
};

const call = (key: string, limit = 10, cost = 1): RuleCall => ({
  key,
  algorithm: 'fixed-window',
  limit,
  windowMs: 60_000,
  cost,
  enforce: true,
});

describe('ResilientStore', () => {
  beforeAll(() => Logger.overrideLogger(false));
  // The breaker's timeouts, reset timer and the probes all run on the fake clock.
  beforeEach(() =>
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }),
  );
  const sleep = (ms: number) => jest.advanceTimersByTimeAsync(ms);

  const stores: Array<{ store: ResilientStore; memory: MemoryStore }> = [];

  function build(
    failureMode: FailureMode = 'memory',
    breaker: Partial<BreakerOptions> = {},
    fallbackDivisor = 1,
  ) {
    const redis = new FakeRedis();
    const memory = new MemoryStore({ sweepIntervalMs: 0 });
    const store = new ResilientStore(redis, memory, {
      failureMode,
      fallbackDivisor,
      breaker: { ...BREAKER, ...breaker },
    });
    stores.push({ store, memory });
    return { redis, memory, store };
  }

  /** Every event, in order. */
  function record(store: ResilientStore) {
    const seen: Array<{ event: keyof ResilientStoreEvents; payload: unknown }> = [];
    for (const event of ['stateChange', 'decision', 'storeError'] as const) {
      store.on(event, (payload) => seen.push({ event, payload }));
    }
    return seen;
  }

  // Per test, so no breaker keeps probing into the next test (and its timer-leak check).
  afterEach(() => {
    for (const { store, memory } of stores.splice(0)) {
      store.onModuleDestroy();
      memory.onModuleDestroy();
    }
    jest.useRealTimers();
  });

  it('decides on Redis while Redis answers', async () => {
    const { redis, store } = build();
    const seen = record(store);
    const result = await store.consume([call('a')]);
    expect(result.outcomes).toEqual([expect.objectContaining({ allowed: true, remaining: 9 })]);
    expect(redis.decisions).toBe(1);
    expect(store.kind).toBe('redis');
    expect(store.degraded).toBe(false);
    expect(store.state).toBe('closed');
    expect(seen).toEqual([
      { event: 'decision', payload: { source: 'redis', durationMs: expect.any(Number) } },
    ]);
  });

  it('decides in memory while Redis is down, limits divided by fallbackDivisor; opens after volumeThreshold calls', async () => {
    const { redis, memory, store } = build('memory', {}, 4);
    const seen = record(store);
    redis.health = 'down';
    const allowed: boolean[] = [];
    for (let i = 0; i < 6; i++)
      allowed.push((await store.consume([call('k', 10)])).outcomes[0].allowed);
    // 10 / 4 instances: 2 per instance.
    expect(allowed).toEqual([true, true, false, false, false, false]);
    expect(memory.size).toBe(1);
    expect(store.state).toBe('open');
    expect(store.kind).toBe('memory');
    expect(store.stats).toEqual(
      expect.objectContaining({
        state: 'open',
        redisDecisions: 0,
        fallbackDecisions: 6,
        storeErrors: 3,
        timeouts: 0,
        shortCircuited: 3,
        opened: 1,
      }),
    );
    expect(seen.filter((e) => e.event === 'stateChange')).toEqual([
      { event: 'stateChange', payload: { state: 'open', previous: 'closed' } },
    ]);
    expect(seen.filter((e) => e.event === 'storeError')).toHaveLength(3);
    expect(
      seen
        .filter((e) => e.event === 'decision')
        .map((e) => (e.payload as { source: string }).source),
    ).toEqual(Array(6).fill('memory'));
  });

  it('never divides a limit below the cost of the request', async () => {
    const { redis, store } = build('memory', {}, 10);
    redis.health = 'down';
    const first = await store.consume([call('c', 12, 3)]);
    expect(first.outcomes[0]).toEqual(expect.objectContaining({ allowed: true, remaining: 0 }));
    expect((await store.consume([call('c', 12, 3)])).outcomes[0].allowed).toBe(false);
  });

  it('answers within timeoutMs when Redis stalls, reporting ESTORETIMEOUT', async () => {
    const { redis, store } = build();
    const seen = record(store);
    redis.health = 'stalled';
    const started = Date.now();
    let answeredAt = 0;
    const pending = store.consume([call('s')]).then((result) => {
      answeredAt = Date.now();
      return result;
    });
    await sleep(49);
    expect(answeredAt).toBe(0);
    await sleep(1);
    const result = await pending;
    expect(result.outcomes[0].allowed).toBe(true);
    expect(answeredAt - started).toBe(50);
    const error = seen.find((e) => e.event === 'storeError')?.payload;
    expect(error).toEqual({ code: 'ESTORETIMEOUT', error: expect.any(Error) });
    expect(store.stats.timeouts).toBe(1);
  });

  it('admits every request in open mode without charging anything', async () => {
    const { redis, memory, store } = build('open');
    redis.health = 'down';
    for (let i = 0; i < 20; i++) {
      const { outcomes } = await store.consume([call('o', 5)]);
      expect(outcomes[0]).toEqual({
        allowed: true,
        remaining: 5,
        resetAtMs: expect.any(Number),
        retryAfterMs: 0,
      });
    }
    expect(memory.size).toBe(0);
    expect(store.stats.fallbackDecisions).toBe(20);
  });

  it('refuses in closed mode with StoreUnavailableError: ESTORE from Redis, then EBREAKEROPEN once open', async () => {
    const { redis, store } = build('closed');
    redis.health = 'down';
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const error = await store.consume([call('x')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      codes.push((error as StoreUnavailableError).code);
    }
    expect(codes).toEqual(['ESTORE', 'ESTORE', 'ESTORE', 'EBREAKEROPEN', 'EBREAKEROPEN']);
    expect(store.stats.fallbackDecisions).toBe(5);
  });

  it('probes once half-open and is back on Redis without a request taking the risk', async () => {
    const { redis, store } = build('memory', { resetTimeoutMs: 40 });
    const seen = record(store);
    redis.health = 'down';
    for (let i = 0; i < 3; i++) await store.consume([call('p')]);
    expect(store.state).toBe('open');
    redis.health = 'ok';
    await sleep(120);
    expect(store.state).toBe('closed');
    expect(store.kind).toBe('redis');
    expect(redis.pings).toBe(1);
    expect(redis.decisions).toBe(0);
    expect(seen.filter((e) => e.event === 'stateChange').map((e) => e.payload)).toEqual([
      { state: 'open', previous: 'closed' },
      { state: 'half-open', previous: 'open' },
      { state: 'closed', previous: 'half-open' },
    ]);
    await store.consume([call('p')]);
    expect(redis.decisions).toBe(1);
  });

  it('reopens after a failed probe and keeps probing', async () => {
    const { redis, store } = build('memory', { resetTimeoutMs: 30 });
    redis.health = 'down';
    for (let i = 0; i < 3; i++) await store.consume([call('q')]);
    await sleep(100);
    expect(store.state).toBe('open');
    expect(redis.pings).toBeGreaterThanOrEqual(2);
    expect(store.stats.opened).toBe(redis.pings + 1);
  });

  it('peeks in memory while Redis is down; reset clears memory and reports that Redis was not reset', async () => {
    const { redis, memory, store } = build();
    redis.health = 'down';
    await store.consume([call('r', 10)]);
    expect((await store.peek([call('r', 10)])).outcomes[0].remaining).toBe(9);
    const error = await store.reset(['r']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(memory.size).toBe(0);
    await expect(store.release('r', 'lease')).resolves.toBeUndefined();
  });

  it('keeps deciding when a listener throws', async () => {
    const { store } = build();
    store.on('decision', () => {
      throw new Error('listener bug');
    });
    const result = await store.consume([call('l')]);
    expect(result.outcomes).toHaveLength(1);
  });

  it('does not touch its options', () => {
    // Not frozen: a frozen object cannot change, so comparing it afterwards would prove nothing.
    const breaker = { ...BREAKER };
    const options = { failureMode: 'memory' as const, fallbackDivisor: 1, breaker };
    const memory = new MemoryStore({ sweepIntervalMs: 0 });
    stores.push({ store: new ResilientStore(new FakeRedis(), memory, options), memory });
    expect(breaker).toStrictEqual(BREAKER);
    expect(options).toStrictEqual({ failureMode: 'memory', fallbackDivisor: 1, breaker: BREAKER });
  });

  it('logs one warning per outage, the one at start included, and one line when back on Redis', async () => {
    const lines: string[] = [];
    Logger.overrideLogger({
      log: (message: string) => lines.push(`log ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
      error: (message: string) => lines.push(`error ${message}`),
    });
    try {
      const redis = new FakeRedis();
      redis.health = 'down';
      const memory = new MemoryStore({ sweepIntervalMs: 0 });
      const store = new ResilientStore(redis, memory, {
        failureMode: 'memory',
        fallbackDivisor: 1,
        breaker: { ...BREAKER, resetTimeoutMs: 20 },
      });
      stores.push({ store, memory });
      for (let i = 0; i < 5; i++) await store.consume([call('w')]);
      await sleep(50);
      redis.health = 'ok';
      await sleep(50);
      expect(store.kind).toBe('redis');
      redis.health = 'down';
      for (let i = 0; i < 5; i++) await store.consume([call('w')]);
      expect(lines).toEqual([
        'warn Redis is not reachable yet: deciding by the "memory" failure mode until it answers',
        'log Redis answers again: decisions are back on Redis',
        'warn Redis is failing: circuit breaker open, deciding by the "memory" failure mode until Redis answers again',
      ]);
    } finally {
      Logger.overrideLogger(false);
    }
  });

  it('decides a key Redis refuses by the failure mode, logs it once, and keeps every other key on Redis', async () => {
    const lines: string[] = [];
    Logger.overrideLogger({
      log: () => undefined,
      warn: () => undefined,
      error: (m: string) => lines.push(m),
    });
    try {
      const { redis, store } = build('memory');
      redis.broken.add('bad');
      for (let i = 0; i < 20; i++) {
        expect((await store.consume([call('bad', 5)])).outcomes[0].allowed).toBe(i < 5);
      }
      expect((await store.consume([call('good', 5)])).outcomes[0]).toEqual(
        expect.objectContaining({ allowed: true, remaining: 4 }),
      );
      expect(store.state).toBe('closed');
      expect(store.kind).toBe('redis');
      expect(store.degraded).toBe(false);
      expect(redis.decisions).toBe(1);
      expect(store.stats).toEqual(
        expect.objectContaining({
          redisDecisions: 1,
          fallbackDecisions: 20,
          storeErrors: 20,
          commandErrors: 20,
          opened: 0,
        }),
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('bad');
      expect(lines[0]).toContain('WRONGTYPE');
    } finally {
      Logger.overrideLogger(false);
    }
  });

  it('answers a refused key with ECOMMAND in closed mode, without opening the breaker', async () => {
    const { redis, store } = build('closed');
    redis.broken.add('bad');
    for (let i = 0; i < 10; i++) {
      const error = await store.consume([call('bad')]).catch((e: unknown) => e);
      expect((error as StoreUnavailableError).code).toBe('ECOMMAND');
    }
    expect(store.state).toBe('closed');
    expect((await store.consume([call('good')])).outcomes[0].allowed).toBe(true);
  });

  it('treats a Redis out of memory as an outage, logged once', async () => {
    const lines: string[] = [];
    Logger.overrideLogger({
      log: () => undefined,
      warn: () => undefined,
      error: (m: string) => lines.push(m),
    });
    try {
      const { redis, store } = build('memory');
      redis.health = 'oom';
      for (let i = 0; i < 6; i++)
        expect((await store.consume([call('m')])).outcomes[0].allowed).toBe(true);
      expect(store.state).toBe('open');
      expect(store.degraded).toBe(true);
      expect(lines.filter((l) => l.includes('out of memory'))).toHaveLength(1);
    } finally {
      Logger.overrideLogger(false);
    }
  });

  it('probes by itself after a fallback decision the breaker did not count, and is back on Redis with no request', async () => {
    const { redis, store } = build('memory', { volumeThreshold: 100 });
    redis.health = 'down';
    await store.consume([call('f')]);
    expect(store.state).toBe('closed');
    expect(store.kind).toBe('memory');
    await sleep(3_000);
    expect(store.kind).toBe('memory');
    redis.health = 'ok';
    await sleep(1_000);
    expect(store.kind).toBe('redis');
    expect(store.degraded).toBe(false);
    const probes = redis.pings;
    await sleep(5_000);
    expect(redis.pings).toBe(probes);
    expect(redis.decisions).toBe(0);
  });

  it('starts in fallback when Redis is unreachable at boot and moves to Redis with no request', async () => {
    const redis = new FakeRedis();
    redis.health = 'down';
    const memory = new MemoryStore({ sweepIntervalMs: 0 });
    const store = new ResilientStore(redis, memory, {
      failureMode: 'memory',
      fallbackDivisor: 1,
      breaker: BREAKER,
    });
    stores.push({ store, memory });
    expect(store.kind).toBe('memory');
    await sleep(2_000);
    redis.health = 'ok';
    expect(store.kind).toBe('memory');
    await sleep(1_000);
    expect(store.kind).toBe('redis');
    expect(redis.decisions).toBe(0);
  });

  it('stops calling a listener once unsubscribed', async () => {
    const { store } = build();
    let calls = 0;
    const unsubscribe = store.on('decision', () => calls++);
    await store.consume([call('u')]);
    unsubscribe();
    await store.consume([call('u')]);
    expect(calls).toBe(1);
  });

  it('leaves no timer behind once destroyed', async () => {
    jest.useRealTimers();
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    // Timers created by the store, the breaker or the memory store, unref'd ones included.
    const ours = /opossum|resilient\.store\.ts|memory\.store\.ts/;
    const live = new Map<number, string>();
    const hook = createHook({
      init: (id, type) => {
        if (type !== 'Timeout') return;
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 30;
        const stack = new Error().stack ?? '';
        Error.stackTraceLimit = limit;
        if (ours.test(stack)) live.set(id, stack);
      },
      destroy: (id) => {
        live.delete(id);
      },
    }).enable();
    try {
      const redis = new FakeRedis();
      const memory = new MemoryStore({ sweepIntervalMs: 1_000 });
      const store = new ResilientStore(redis, memory, {
        failureMode: 'memory',
        fallbackDivisor: 1,
        breaker: { ...BREAKER, resetTimeoutMs: 20 },
      });
      store.on('stateChange', () => undefined);
      redis.health = 'stalled';
      redis.stallMs = 60;
      for (let i = 0; i < 3; i++) await store.consume([call('t')]);
      // A fallback decision with the breaker still closed starts the prober: it must go too.
      redis.health = 'down';
      await sleep(50);
      expect(store.state).toBe('open');
      store.onModuleDestroy();
      memory.onModuleDestroy();
      // Let the stalled calls (the fake's own timers) finish.
      await sleep(100);
      expect([...live.values()]).toEqual([]);
    } finally {
      hook.disable();
    }
  });
});

describe('the in-memory fallback store', () => {
  it('stays within maxKeys under 1,000,000 distinct keys', () => {
    const maxKeys = 10_000;
    const memory = new MemoryStore({ maxKeys, sweepIntervalMs: 0 });
    const now = Date.now();
    let largest = 0;
    for (let i = 0; i < 1_000_000; i++) {
      memory.decide([call(`client-${i}`)], now, true);
      if (memory.size > largest) largest = memory.size;
    }
    expect(largest).toBe(maxKeys);
    // Eviction works in batches of 1% of maxKeys.
    expect(memory.size).toBeGreaterThanOrEqual(maxKeys * 0.99);
    // The most recent keys are the ones kept.
    expect(memory.decide([call('client-999999')], now, false).outcomes[0].remaining).toBe(9);
    memory.onModuleDestroy();
  });
});
