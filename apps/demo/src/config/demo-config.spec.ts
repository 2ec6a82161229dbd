import { loadDemoConfig } from './demo-config.js';

describe('loadDemoConfig', () => {
  it('defaults to the documented values: port 3000 on 0.0.0.0, Express, memory store, failure mode memory', () => {
    const config = loadDemoConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      httpAdapter: 'express',
      redisUrl: undefined,
      redisClusterNodes: undefined,
      redisSentinels: undefined,
      redisSentinelName: 'mymaster',
      failureMode: 'memory',
      adminToken: undefined,
      trustProxy: false,
    });
    expect([...config.apiKeys]).toEqual([
      ['demo-free', 'free'],
      ['demo-pro', 'pro'],
      ['demo-enterprise', 'enterprise'],
    ]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses every variable', () => {
    const config = loadDemoConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      HTTP_ADAPTER: 'fastify',
      REDIS_URL: 'rediss://cache:6380',
      REDIS_CLUSTER_NODES: 'a:7000, b:7001',
      REDIS_SENTINELS: 's1:26379,s2:26380',
      REDIS_SENTINEL_NAME: 'cache',
      RATE_LIMIT_FAILURE_MODE: 'closed',
      ADMIN_TOKEN: 's3cret-admin-token',
      TRUST_PROXY: '10.0.0.0/8,192.168.1.1',
      DEMO_API_KEYS: 'k1:pro,with:colon:enterprise',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      httpAdapter: 'fastify',
      redisUrl: 'rediss://cache:6380',
      redisClusterNodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      redisSentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      redisSentinelName: 'cache',
      failureMode: 'closed',
      adminToken: 's3cret-admin-token',
      trustProxy: ['10.0.0.0/8', '192.168.1.1'],
    });
    expect(config.apiKeys.get('with:colon')).toBe('enterprise');
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
  ])('reads TRUST_PROXY=%s', (raw, expected) => {
    expect(loadDemoConfig({ TRUST_PROXY: raw }).trustProxy).toBe(expected);
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['HTTP_ADAPTER', { HTTP_ADAPTER: 'koa' }],
    ['REDIS_URL', { REDIS_URL: 'http://localhost' }],
    ['REDIS_CLUSTER_NODES', { REDIS_CLUSTER_NODES: 'nohostport' }],
    ['REDIS_SENTINELS', { REDIS_SENTINELS: 's1:26379,s2' }],
    ['REDIS_SENTINELS', { REDIS_SENTINELS: 's1:99999' }],
    ['RATE_LIMIT_FAILURE_MODE', { RATE_LIMIT_FAILURE_MODE: 'maybe' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'everyone' }],
    ['DEMO_API_KEYS', { DEMO_API_KEYS: 'k1:platinum' }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'short' }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'sixteen-chars-ok but-a-space' }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: ' s3cret-admin-token' }],
  ])('names %s when it is invalid', (variable, env) => {
    expect(() => loadDemoConfig(env)).toThrow(
      new RegExp(`Invalid environment variable ${variable}:`),
    );
  });
});
