import { Logger } from '@nestjs/common';
import type { RuleInput } from '../interfaces/index.js';
import { resolveOptions } from '../rate-limit.options.js';
import { RedisClientHolder } from '../rate-limit.providers.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { validateRule } from '../rules/rule.validator.js';
import { RuntimeConfig } from './runtime-config.service.js';

const RULES: RuleInput[] = [
  { name: 'public', algorithm: 'sliding-window-log', limit: 10, window: '60s', key: 'ip' },
  {
    name: 'premium',
    algorithm: 'token-bucket',
    limit: 100,
    window: '60s',
    key: 'api-key',
    tiers: { free: 100, pro: 1000, enterprise: 'exempt' },
    tier: () => undefined,
  },
];

/** Without Redis: the configuration of this one instance, with the same code paths as Redis. */
describe('RuntimeConfig (no Redis)', () => {
  let registry: RuleRegistry;
  let config: RuntimeConfig;

  // Bootstrap logs that changes are local: true, and noise here.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    registry = new RuleRegistry();
    for (const input of RULES) registry.add(validateRule(input, 'spec', input.name!), 'spec');
    config = new RuntimeConfig(registry, new RedisClientHolder(null, false), resolveOptions());
    await config.onApplicationBootstrap();
  });
  afterEach(() => config.onModuleDestroy());

  it('is local', () => {
    expect(config.shared).toBe(false);
  });

  it('reports a change that reached the store as made, even when reading it back fails', async () => {
    const backend = (config as unknown as { backend: { read: () => Promise<never> } }).backend;
    const read = backend.read;
    backend.read = () => Promise.reject(new Error('read-back timed out'));
    try {
      // The admin API turns a rejection into 503 "not applied": it must not for a write that is in.
      await expect(config.addToList('block', 'ip=198.51.100.7')).resolves.toBeUndefined();
    } finally {
      backend.read = read;
    }
  });

  it('merges rule patches into one override and drops it', async () => {
    await config.patchRule('public', { limit: 3 });
    await config.patchRule('public', { mode: 'dry-run' });
    expect(registry.get('public')).toMatchObject({ limit: 3, windowMs: 60_000, mode: 'dry-run' });
    expect(registry.list().find((e) => e.rule.name === 'public')?.source).toBe('override');
    await config.dropRule('public');
    expect(registry.get('public')).toMatchObject({ limit: 10, mode: 'enforce' });
    expect(registry.list().every((e) => e.source === 'static')).toBe(true);
  });

  it('caps every non-exempt tier of a tiered rule with a patched limit', async () => {
    await config.patchRule('premium', { limit: 7 });
    expect(registry.get('premium')?.tiers).toEqual({ free: 7, pro: 7, enterprise: 'exempt' });
    await config.dropRule('premium');
    expect(registry.get('premium')?.tiers).toEqual({ free: 100, pro: 1000, enterprise: 'exempt' });
  });

  it('keeps per-key caps by rule and identity', async () => {
    await config.setKeyCap('public', 'ip=203.0.113.7', { limit: 2 });
    await config.setKeyCap('premium', 'key=a', { limit: 5, windowMs: 1000 });
    expect(config.keyCap('public', 'ip=203.0.113.7')).toEqual({ limit: 2 });
    expect(config.keyCap('public', 'ip=203.0.113.8')).toBeUndefined();
    expect(config.keyCap('premium', 'ip=203.0.113.7')).toBeUndefined();
    expect(config.keyCaps('premium')).toEqual([{ key: 'key=a', limit: 5, windowMs: 1000 }]);
    await config.dropKeyCap('public', 'ip=203.0.113.7');
    expect(config.keyCaps('public')).toEqual([]);
  });

  it('checks the blocklist before the allowlist', async () => {
    await config.addToList('allow', 'ip=203.0.113.7');
    await config.addToList('allow', 'key=vip');
    await config.addToList('block', 'key=vip');
    expect(config.access({ ip: '203.0.113.7' })).toEqual({ list: 'allow', id: 'ip=203.0.113.7' });
    expect(config.access({ ip: '203.0.113.7', apiKey: 'vip' })).toEqual({
      list: 'block',
      id: 'key=vip',
    });
    expect(config.access({ ip: '203.0.113.8' })).toBeUndefined();
    expect(config.lists()).toEqual({ allow: ['ip=203.0.113.7', 'key=vip'], block: ['key=vip'] });
    await config.removeFromList('block', 'key=vip');
    expect(config.access({ ip: '203.0.113.9', apiKey: 'vip' })).toEqual({
      list: 'allow',
      id: 'key=vip',
    });
  });
});
