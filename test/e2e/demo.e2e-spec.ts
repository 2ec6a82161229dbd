import request from 'supertest';
import { Redis } from 'ioredis';
import { ADAPTERS, startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';
import { keysWithTtl } from '../support/redis-client.js';

/** The demo's limited routes over real Redis, on both HTTP adapters (README: The demo app, Responses of a limited route). */
describe.each(ADAPTERS)('demo routes on %s', (adapter) => {
  let server: RedisServer;
  let redis: Redis;
  let demo: RunningApp;
  const prefix = uniquePrefix(`demo-${adapter}`);

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    demo = await startDemo({ HTTP_ADAPTER: adapter, REDIS_URL: server.url }, { keyPrefix: prefix });
  });

  afterAll(async () => {
    await demo?.close();
    redis?.disconnect();
    await server?.stop();
  });

  const get = (path: string) => request(demo.url).get(path);

  it('admits exactly 10 public requests per IP, then answers 429 with every header and the JSON body', async () => {
    const before = Math.floor(Date.now() / 1000);
    for (let i = 1; i <= 10; i++) {
      const res = await get('/api/public').expect(200);
      expect(res.headers['x-ratelimit-limit']).toBe('10');
      expect(res.headers['x-ratelimit-remaining']).toBe(String(10 - i));
      const reset = Number(res.headers['x-ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(before + 59);
      expect(reset).toBeLessThanOrEqual(before + 62);
      expect(res.headers['ratelimit-policy']).toBe('"public";q=10;w=60');
      expect(res.headers['ratelimit']).toMatch(new RegExp(`^"public";r=${10 - i};t=(59|60)$`));
    }
    const denied = await get('/api/public').expect(429);
    const retryAfter = Number(denied.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(denied.headers['x-ratelimit-remaining']).toBe('0');
    expect(denied.headers['ratelimit']).toMatch(/^"public";r=0;t=\d+$/);
    expect(denied.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringContaining('public'),
      rule: 'public',
      retryAfter,
    });
  });

  it('rejects premium calls without a known API key with 401 and no rate-limit headers', async () => {
    for (const key of [undefined, 'no-such-key']) {
      const req = get('/api/premium');
      const res = await (key ? req.set('X-API-Key', key) : req).expect(401);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      expect(res.headers['ratelimit']).toBeUndefined();
      expect(res.headers['retry-after']).toBeUndefined();
    }
  });

  it('limits premium by tier: free 100, pro 1000, enterprise exempt with no headers', async () => {
    const free = await get('/api/premium').set('X-API-Key', 'demo-free').expect(200);
    expect(free.headers['x-ratelimit-limit']).toBe('100');
    expect(free.headers['x-ratelimit-remaining']).toBe('99');
    expect(free.headers['ratelimit-policy']).toBe('"premium";q=100;w=60');
    const pro = await get('/api/premium').set('X-API-Key', 'demo-pro').expect(200);
    expect(pro.headers['x-ratelimit-limit']).toBe('1000');
    expect(pro.headers['x-ratelimit-remaining']).toBe('999');
    const enterprise = await get('/api/premium').set('X-API-Key', 'demo-enterprise').expect(200);
    expect(enterprise.headers['x-ratelimit-limit']).toBeUndefined();
    expect(enterprise.headers['ratelimit-policy']).toBeUndefined();
  });

  it('exhausts the free tier after exactly 100 requests', async () => {
    // 99 left from the previous test. The bucket refills 100 per 60 s, one token every 600 ms: a
    // slow run earns tokens meanwhile, and each one it had the time to earn is allowed for.
    const started = Date.now();
    let admitted = 0;
    let status = 200;
    for (let i = 0; i < 200 && status === 200; i++) {
      status = (await get('/api/premium').set('X-API-Key', 'demo-free')).status;
      if (status === 200) admitted++;
    }
    const earned = 1 + Math.floor(((Date.now() - started) * 100) / 60_000);
    expect(status).toBe(429);
    expect(admitted).toBeGreaterThanOrEqual(99);
    expect(admitted).toBeLessThanOrEqual(99 + earned);
  });

  it('POST /api/data is all-or-nothing across writes and writes-burst', async () => {
    const key = `writer-${adapter}`;
    for (let i = 1; i <= 5; i++) {
      const res = await request(demo.url)
        .post('/api/data')
        .set('X-API-Key', key)
        .send({ i })
        .expect(201);
      expect(res.body).toEqual({ ok: true, route: 'data', received: { i } });
    }
    const denied = await request(demo.url)
      .post('/api/data')
      .set('X-API-Key', key)
      .send({})
      .expect(429);
    expect(denied.body.rule).toBe('writes-burst');
    expect(denied.headers['ratelimit-policy']).toBe('"writes";q=20;w=60, "writes-burst";q=5;w=10');
    // The denied request charged neither rule: writes still has 20 - 5.
    expect(denied.headers['ratelimit']).toMatch(/^"writes";r=15;t=\d+, "writes-burst";r=0;t=\d+$/);
    const writes = await redis.hget((await redis.keys(`${prefix}:writes:*key=${key}*`))[0], 'c');
    expect(writes).toBe('5');
  });

  it('keys writes by API key when given, else by client IP', async () => {
    await request(demo.url).post('/api/data').set('X-API-Key', `other-${adapter}`).expect(201);
    const anonymous = await request(demo.url).post('/api/data').expect(201);
    expect(anonymous.headers['ratelimit']).toMatch(/"writes";r=19;/);
  });

  it('ignores a spoofed X-Forwarded-For when no proxy is trusted', async () => {
    // Every public request above came from 127.0.0.1, which is exhausted.
    const res = await get('/api/public').set('X-Forwarded-For', '203.0.113.9').expect(429);
    expect(res.body.rule).toBe('public');
  });

  it('leaves no key without a TTL', async () => {
    const keys = await keysWithTtl(redis, prefix);
    expect(keys.size).toBeGreaterThan(0);
    for (const [key, ttl] of keys) {
      expect({ key, positive: ttl > 0 }).toEqual({ key, positive: true });
      expect(ttl).toBeLessThanOrEqual(120_000);
    }
  });
});

describe.each(ADAPTERS)('client IP behind a trusted proxy on %s', (adapter) => {
  let demo: RunningApp;

  beforeAll(async () => {
    demo = await startDemo({ HTTP_ADAPTER: adapter, TRUST_PROXY: '127.0.0.1/8' });
  });
  afterAll(() => demo?.close());

  it('uses X-Forwarded-For from a trusted hop, each client with its own budget', async () => {
    for (let i = 0; i < 10; i++) {
      await request(demo.url).get('/api/public').set('X-Forwarded-For', '198.51.100.1').expect(200);
    }
    await request(demo.url).get('/api/public').set('X-Forwarded-For', '198.51.100.1').expect(429);
    await request(demo.url).get('/api/public').set('X-Forwarded-For', '198.51.100.2').expect(200);
    await request(demo.url)
      .get('/api/public')
      .set('X-Forwarded-For', '::ffff:198.51.100.1')
      .expect(429);
  });
});
