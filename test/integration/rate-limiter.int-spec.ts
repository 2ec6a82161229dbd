import { Redis } from 'ioredis';
import { DecisionEvents } from '../../libs/rate-limit/src/core/decision-events.js';
import { RateLimiter } from '../../libs/rate-limit/src/core/rate-limiter.service.js';
import type { Algorithm, RuleInput } from '../../libs/rate-limit/src/interfaces/index.js';
import { resolveOptions } from '../../libs/rate-limit/src/rate-limit.options.js';
import { RedisClientHolder } from '../../libs/rate-limit/src/rate-limit.providers.js';
import { RuleRegistry } from '../../libs/rate-limit/src/rules/rule-registry.service.js';
import { validateRule } from '../../libs/rate-limit/src/rules/rule.validator.js';
import { RuntimeConfig } from '../../libs/rate-limit/src/runtime/runtime-config.service.js';
import { MemoryStore } from '../../libs/rate-limit/src/stores/memory.store.js';
import type { RateLimitStore } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { keyPrefix } from '../support/redis-client.js';
import { int, pick, seeded } from '../support/random.js';
import { RedisServer } from '../support/redis-server.js';

// Windows of an hour: nothing refills or expires while the sequence runs, on either clock.
const ALGORITHMS: Algorithm[] = [
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
  'token-bucket',
  'leaky-bucket',
  'gcra',
];
const RULES: RuleInput[] = ALGORITHMS.map((algorithm) => ({
  name: algorithm,
  algorithm,
  limit: 7,
  window: '1h',
  key: 'api-key',
}));

function limiterOver(store: RateLimitStore, memory: MemoryStore, prefix: string): RateLimiter {
  const options = resolveOptions({ keyPrefix: prefix });
  const registry = new RuleRegistry();
  RULES.forEach((input, i) => registry.add(validateRule(input, `rules[${i}]`, `r${i}`), 'test'));
  const runtime = new RuntimeConfig(registry, new RedisClientHolder(null, false), options);
  return new RateLimiter(registry, runtime, store, memory, new DecisionEvents(), options);
}

describe('RateLimiter over Redis and over memory', () => {
  let server: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it('answers a seeded random sequence of consume, peek and reset alike, call for call', async () => {
    const prefix = keyPrefix('core-agreement');
    const onRedis = limiterOver(
      new RedisStore(client),
      new MemoryStore({ sweepIntervalMs: 0 }),
      prefix,
    );
    const memory = new MemoryStore({ sweepIntervalMs: 0 });
    const inMemory = limiterOver(memory, memory, prefix);
    const rnd = seeded(424242);
    let denials = 0;
    for (let step = 0; step < 600; step++) {
      const rule = pick(rnd, ALGORITHMS);
      const key = `tenant-${int(rnd, 1, 3)}`;
      const op = rnd();
      if (op < 0.05) {
        await Promise.all([onRedis.reset(rule, key), inMemory.reset(rule, key)]);
        continue;
      }
      const cost = int(rnd, 0, 3);
      const call = (l: RateLimiter) =>
        op < 0.2 ? l.peek(rule, key) : l.consume(rule, key, { cost });
      const redisAnswer = await call(onRedis);
      const memoryResult = await call(inMemory);
      const shape = (r: typeof redisAnswer) => ({
        step,
        rule,
        key,
        allowed: r.allowed,
        remaining: r.remaining,
        never: r.retryAfterMs < 0,
      });
      expect(shape(redisAnswer)).toEqual(shape(memoryResult));
      if (!redisAnswer.allowed) denials++;
    }
    expect(denials).toBeGreaterThan(20);
    // Every key the core wrote has a TTL.
    for (const key of await client.keys(`${prefix}:*`))
      expect(await client.pttl(key)).toBeGreaterThan(0);
  });
});
