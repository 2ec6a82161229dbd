import { jest } from '@jest/globals';
import { RateLimitExceededError, StoreUnavailableError } from '../errors/index.js';
import type { RuleInput } from '../interfaces/index.js';
import { resolveOptions } from '../rate-limit.options.js';
import { RedisClientHolder } from '../rate-limit.providers.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { validateRule } from '../rules/rule.validator.js';
import { RuntimeConfig } from '../runtime/runtime-config.service.js';
import { MemoryStore } from '../stores/memory.store.js';
import type { RuleCall } from '../stores/rate-limit.store.js';
import { stateKey } from '../stores/redis-keys.js';
import { type GuardedStore, ResilientStore } from '../stores/resilient.store.js';
import { DecisionEvents } from './decision-events.js';
import { callerIdentity } from './identity/index.js';
import { RateLimiter } from './rate-limiter.service.js';

const T0 = Date.UTC(2026, 0, 1);

const RULES: RuleInput[] = [
  { name: 'writes', algorithm: 'fixed-window', limit: 3, window: '1m', key: 'api-key' },
  { name: 'jobs', algorithm: 'token-bucket', limit: 2, window: '2s', key: () => 'unused' },
  {
    name: 'tiered',
    algorithm: 'fixed-window',
    limit: 5,
    window: '1m',
    key: 'api-key',
    tiers: { pro: 50, vip: 'exempt' },
    tier: () => undefined,
  },
];

/** The core wired by hand over a store, as the module wires it, without Nest or HTTP. */
function build(
  options: { clock?: () => number; store?: (memory: MemoryStore) => ResilientStore } = {},
) {
  let now = T0;
  const clock = options.clock ?? (() => now);
  const resolved = resolveOptions({ clock, keyPrefix: 'rl' });
  const registry = new RuleRegistry();
  for (const [i, input] of RULES.entries())
    registry.add(validateRule(input, `rules[${i}]`, `r${i}`), 'test');
  const memory = new MemoryStore({ sweepIntervalMs: 0, clock });
  const store = options.store ? options.store(memory) : memory;
  const runtime = new RuntimeConfig(registry, new RedisClientHolder(null, false), resolved);
  const events = new DecisionEvents();
  const limiter = new RateLimiter(registry, runtime, store, memory, events, resolved);
  return {
    limiter,
    registry,
    runtime,
    memory,
    store,
    events,
    advance: (ms: number) => (now += ms),
  };
}

describe('RateLimiter', () => {
  it('consumes, peeks without charging, and resets one key of a named rule', async () => {
    const { limiter } = build();
    expect(await limiter.consume('writes', 'tenant-a')).toMatchObject({
      allowed: true,
      remaining: 2,
      identity: 'key=tenant-a',
    });
    expect(await limiter.consume('writes', 'tenant-a', { cost: 2 })).toMatchObject({
      allowed: true,
      remaining: 0,
    });
    const denied = await limiter.consume('writes', 'tenant-a');
    expect(denied).toMatchObject({ allowed: false, remaining: 0, retryAfter: 60 });
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(await limiter.peek('writes', 'tenant-a')).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.peek('writes', 'tenant-b')).toMatchObject({ remaining: 3 });
    await limiter.reset('writes', 'tenant-a');
    expect(await limiter.peek('writes', 'tenant-a')).toMatchObject({ remaining: 3 });
  });

  it('refuses unknown rules, unusable keys and costs that are not whole numbers from 0, charging nothing', async () => {
    const { limiter, memory } = build();
    await expect(limiter.consume('nope', 'k')).rejects.toThrow('No rate-limit rule named "nope"');
    await expect(limiter.consume('writes', '')).rejects.toThrow(/1 to 1024 characters/);
    for (const cost of [-1, 1.5, NaN]) {
      await expect(limiter.consume('writes', 'k', { cost })).rejects.toThrow(/whole number from 0/);
    }
    expect(memory.size).toBe(0);
  });

  it('applies tiers as the guard does, own tiers only: __proto__ is no tier', async () => {
    const { limiter } = build();
    expect(await limiter.consume('tiered', 'a', { tier: 'pro' })).toMatchObject({
      limit: 50,
      remaining: 49,
    });
    expect(await limiter.consume('tiered', 'b', { tier: 'vip' })).toMatchObject({
      allowed: true,
      exempt: true,
    });
    expect(await limiter.consume('tiered', 'c', { tier: '__proto__' })).toMatchObject({
      limit: 5,
      remaining: 4,
    });
    expect(await limiter.consume('tiered', 'd', { tier: 'toString' })).toMatchObject({
      limit: 5,
      remaining: 4,
    });
  });

  it('a worker and a route share one budget: the key as a worker names it is the identity the guard builds', async () => {
    const { limiter, registry } = build();
    const rule = registry.get('writes')!;
    // What the guard decides for a request with `X-API-Key: tenant-a`.
    const identity = callerIdentity(
      rule.key as 'api-key',
      { ip: '203.0.113.7', apiKey: 'tenant-a' },
      64,
    );
    const route = await limiter.decide([{ rule, identity, cost: 1 }]);
    expect(route.kind === 'decided' && route.decision.binding.remaining).toBe(2);
    expect(await limiter.consume('writes', 'tenant-a')).toMatchObject({ remaining: 1 });
    const again = await limiter.decide([{ rule, identity, cost: 1 }]);
    expect(again.kind === 'decided' && again.decision.binding.remaining).toBe(0);
  });

  it('tells observers what it decided, and keeps its own bookkeeping out of them when asked', async () => {
    const { limiter, registry, events } = build();
    const seen: string[] = [];
    events.subscribe({
      decided: (decision, identities) => seen.push(`${decision.binding.rule}:${identities[0]}`),
    });
    events.subscribe({
      decided: () => {
        throw new Error('a broken observer');
      },
    });
    await limiter.consume('writes', 'tenant-a');
    await limiter.decide(
      [{ rule: registry.get('writes')!, identity: 'key=quiet', cost: 1 }],
      undefined,
      false,
    );
    expect(seen).toEqual(['writes:key=tenant-a']);
  });

  describe('acquire', () => {
    beforeEach(() => jest.useFakeTimers({ now: T0 }));
    afterEach(() => jest.useRealTimers());

    it('waits the store-given retry delay, without spinning, and reports the wait it imposed', async () => {
      const { limiter, memory } = build({ clock: () => Date.now() });
      const consume = jest.spyOn(memory, 'consume');
      expect(await limiter.acquire('jobs', 'queue')).toMatchObject({ waitedMs: 0 });
      expect(await limiter.acquire('jobs', 'queue')).toMatchObject({ waitedMs: 0 });
      let result: { waitedMs: number } | undefined;
      const pending = limiter.acquire('jobs', 'queue').then((r) => (result = r));
      await jest.advanceTimersByTimeAsync(999);
      expect(result).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      await pending;
      // 2 per 2 s: one token is back after 1 s. Four store calls for three admissions and one denial.
      expect(result).toMatchObject({ allowed: true, waitedMs: 1000 });
      expect(consume).toHaveBeenCalledTimes(4);
    });

    it('gives up at once when the next wait would pass maxWait, charging nothing', async () => {
      const { limiter } = build({ clock: () => Date.now() });
      await limiter.acquire('jobs', 'queue', { cost: 2 });
      const error = await limiter
        .acquire('jobs', 'queue', { maxWait: '500ms' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect(error).toMatchObject({ rule: 'jobs', retryAfterMs: 1000, waitedMs: 0 });
      expect(await limiter.peek('jobs', 'queue')).toMatchObject({ remaining: 0 });
    });

    it('gives up on a request that can never be admitted instead of waiting forever', async () => {
      const { limiter } = build({ clock: () => Date.now() });
      await expect(limiter.acquire('jobs', 'queue', { cost: 3 })).rejects.toMatchObject({
        retryAfterMs: -1,
      });
    });

    it('stops waiting when its signal aborts, with the signal reason', async () => {
      const { limiter } = build({ clock: () => Date.now() });
      await limiter.acquire('jobs', 'queue', { cost: 2 });
      const controller = new AbortController();
      const pending = limiter.acquire('jobs', 'queue', { signal: controller.signal });
      const outcome = pending.catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(10);
      controller.abort(new Error('shutting down'));
      expect(await outcome).toEqual(new Error('shutting down'));
      await expect(limiter.acquire('jobs', 'queue', { signal: controller.signal })).rejects.toThrow(
        'shutting down',
      );
    });
  });

  describe('over a Redis that cannot answer', () => {
    const down: GuardedStore = {
      connected: false,
      consume: () => Promise.reject(new Error('ECONNREFUSED')),
      peek: () => Promise.reject(new Error('ECONNREFUSED')),
      reset: () => Promise.reject(new Error('ECONNREFUSED')),
      release: () => Promise.reject(new Error('ECONNREFUSED')),
      refund: () => Promise.reject(new Error('ECONNREFUSED')),
      probe: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const breaker = {
      timeoutMs: 100,
      resetTimeoutMs: 60_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 100,
      rollingCountTimeoutMs: 5_000,
    };
    const resilient = (memory: MemoryStore) =>
      new ResilientStore(down, memory, { failureMode: 'memory', fallbackDivisor: 1, breaker });

    it('decides by the failure mode, but peeks and resets from Redis or not at all', async () => {
      const { limiter, memory, store } = build({ store: resilient });
      try {
        expect(await limiter.consume('writes', 'tenant-a')).toMatchObject({
          allowed: true,
          remaining: 2,
        });
        await expect(limiter.peek('writes', 'tenant-a')).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
        await expect(limiter.reset('writes', 'tenant-a')).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
        // Nothing was half-reset: the fallback's state is as it was.
        const key = stateKey('rl', 'writes', 'fixed-window', 'key=tenant-a');
        const call: RuleCall = {
          key,
          algorithm: 'fixed-window',
          limit: 3,
          windowMs: 60_000,
          cost: 0,
          enforce: true,
        };
        expect((await memory.peek([call])).outcomes[0].remaining).toBe(2);
      } finally {
        (store as ResilientStore).onModuleDestroy();
      }
    });
  });
});
