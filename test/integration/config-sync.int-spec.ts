import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { resolveOptions } from '../../libs/rate-limit/src/rate-limit.options.js';
import { RedisClientHolder } from '../../libs/rate-limit/src/rate-limit.providers.js';
import { RuleRegistry } from '../../libs/rate-limit/src/rules/rule-registry.service.js';
import { validateRule } from '../../libs/rate-limit/src/rules/rule.validator.js';
import { RuntimeConfig } from '../../libs/rate-limit/src/runtime/runtime-config.service.js';
import { waitFor } from '../support/load.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/** Two instances sharing one Redis: a burst of changes on one, what the other loads. */
describe('runtime configuration changes in a burst', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const configs: RuntimeConfig[] = [];

  async function instance(prefix: string): Promise<RuntimeConfig> {
    const registry = new RuleRegistry();
    const input = {
      name: 'public',
      algorithm: 'fixed-window',
      limit: 10,
      window: '60s',
      key: 'ip',
    } as const;
    registry.add(validateRule(input, 'spec', 'public'), 'spec');
    const client = new Redis(server.port, '127.0.0.1');
    clients.push(client);
    const config = new RuntimeConfig(
      registry,
      new RedisClientHolder(client, false),
      resolveOptions({ keyPrefix: prefix }),
    );
    configs.push(config);
    await config.onApplicationBootstrap();
    return config;
  }

  beforeAll(async () => {
    Logger.overrideLogger(false);
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const config of configs) await config.onModuleDestroy();
    for (const client of clients) client.disconnect();
    await server.stop();
  });

  it('costs the other instance a bounded number of reloads, not one per change, and ends in the last state', async () => {
    const prefix = keyPrefix('config-burst');
    const writer = await instance(prefix);
    const reader = await instance(prefix);
    const before = reader.loads;
    const changes = 200;
    await Promise.all(
      Array.from({ length: changes }, (_, i) =>
        writer.setKeyCap('public', `ip=203.0.113.${i % 250}`, { limit: i + 1 }),
      ),
    );
    await waitFor(() => reader.keyCaps('public').length === changes, 5_000, 20);
    // Let any notification still in flight arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reader.keyCap('public', 'ip=203.0.113.199')).toEqual({ limit: 200 });
    expect(reader.loads - before).toBeLessThanOrEqual(20);
    // The writer reads its own changes back, coalesced the same way.
    expect(writer.loads).toBeLessThan(changes / 2);
  });
});
