import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { keysWithTtl } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

const TOKEN = 's3cret-admin-token';
/** The README's admin API promise: every change is in force on every instance within this. */
const PROPAGATION_MS = 2_000;

interface Reply {
  status: number;
  // The parsed JSON of every admin route: each assertion states the shape it expects.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

interface CallOptions {
  body?: unknown;
  /** Bearer token; `null` sends none. @default TOKEN */
  token?: string | null;
  /** Client IP, sent as `X-Forwarded-For` (the instances trust the proxy). */
  ip?: string;
  apiKey?: string;
}

async function call(
  url: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.ip) headers['X-Forwarded-For'] = options.ip;
  if (options.apiKey) headers['X-API-Key'] = options.apiKey;
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Polls `probe` until it returns true; fails after `ms`. Returns how long it took. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Client addresses of a documentation range, a fresh one per test so budgets never mix. */
let nextHost = 1;
const freshIp = () => `203.0.113.${nextHost++}`;

describe('admin API: two instances (Express and Fastify) sharing one Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let a: RunningApp;
  let b: RunningApp;
  const prefix = uniquePrefix('admin');
  const env = (adapter: string) => ({
    HTTP_ADAPTER: adapter,
    REDIS_URL: server.url,
    ADMIN_TOKEN: TOKEN,
    TRUST_PROXY: 'true',
  });
  const start = (adapter: string) => startDemo(env(adapter), { keyPrefix: prefix });
  const rule = async (app: RunningApp, name: string) =>
    (await call(app.url, 'GET', '/admin/rules')).body.find(
      (r: { name: string }) => r.name === name,
    );

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    [a, b] = await Promise.all([start('express'), start('fastify')]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    redis?.disconnect();
    await server?.stop();
  });

  describe('authentication', () => {
    it('answers 401 without a token and with a wrong one, 200 with the right one', async () => {
      for (const app of [a, b]) {
        const none = await call(app.url, 'GET', '/admin/rules', { token: null });
        expect(none.status).toBe(401);
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect((await call(app.url, 'GET', '/admin/rules', { token: 'wrong' })).status).toBe(401);
        expect((await call(app.url, 'GET', '/admin/rules', { token: `${TOKEN}x` })).status).toBe(
          401,
        );
        expect(
          (
            await call(app.url, 'PATCH', '/admin/rules/public', {
              token: 'wrong',
              body: { limit: 1 },
            })
          ).status,
        ).toBe(401);
        expect((await call(app.url, 'GET', '/admin/rules')).status).toBe(200);
      }
      expect(await rule(a, 'public')).toMatchObject({ limit: 10, source: 'static' });
    });
  });

  it('lists every rule with its source, and the tiers of a tiered rule', async () => {
    const { status, body } = await call(b.url, 'GET', '/admin/rules');
    expect(status).toBe(200);
    expect(body).toEqual(
      expect.arrayContaining([
        {
          name: 'public',
          algorithm: 'sliding-window-log',
          limit: 10,
          windowMs: 60_000,
          mode: 'enforce',
          source: 'static',
        },
        {
          name: 'premium',
          algorithm: 'token-bucket',
          limit: 100,
          windowMs: 60_000,
          mode: 'enforce',
          source: 'static',
          tiers: { free: 100, pro: 1000, enterprise: 'exempt' },
        },
        {
          name: 'writes',
          algorithm: 'fixed-window',
          limit: 20,
          windowMs: 60_000,
          mode: 'enforce',
          source: 'static',
        },
        {
          name: 'writes-burst',
          algorithm: 'token-bucket',
          limit: 5,
          windowMs: 10_000,
          mode: 'enforce',
          source: 'static',
        },
      ]),
    );
  });

  describe('validation: 400 naming the field, and nothing changes', () => {
    it.each([
      ['PATCH', '/admin/rules/public', { limit: 0 }, 'limit'],
      ['PATCH', '/admin/rules/public', { limit: 1.5 }, 'limit'],
      ['PATCH', '/admin/rules/public', { limit: '5' }, 'limit'],
      ['PATCH', '/admin/rules/public', { limit: null }, 'limit'],
      ['PATCH', '/admin/rules/public', { limit: 1_000_000_001 }, 'limit'],
      ['PATCH', '/admin/rules/public', { windowMs: 0 }, 'windowMs'],
      ['PATCH', '/admin/rules/public', { windowMs: 2_678_400_001 }, 'windowMs'],
      ['PATCH', '/admin/rules/public', { limit: 5, mode: 'off' }, 'mode'],
      ['PATCH', '/admin/rules/public', { limit: 5, burst: 2 }, 'burst'],
      ['PATCH', '/admin/rules/public', {}, 'limit'],
      ['PATCH', '/admin/rules/public', undefined, 'limit'],
      ['PUT', '/admin/rules/public/overrides/203.0.113.200', {}, 'limit'],
      ['PUT', '/admin/rules/public/overrides/203.0.113.200', { limit: -1 }, 'limit'],
      [
        'PUT',
        '/admin/rules/public/overrides/203.0.113.200',
        { limit: 5, windowMs: 2_678_400_001 },
        'windowMs',
      ],
      ['PUT', '/admin/rules/public/overrides/not-an-ip', { limit: 5 }, 'key'],
      ['PUT', '/admin/rules/writes/overrides/x', { limit: 5, tenant: 'a' }, 'tenant'],
      ['GET', '/admin/rules/premium/keys/demo-pro?tier=platinum', undefined, 'tier'],
      ['GET', '/admin/rules/premium/keys/demo-pro?tier=pro&verbose=1', undefined, 'verbose'],
      ['PUT', '/admin/lists/block/ip=999.1.2.3', undefined, 'id'],
    ])('%s %s %j names %s', async (method, path, body, field) => {
      const res = await call(a.url, method, path, { body });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(JSON.stringify(res.body.message)).toContain(field);
    });

    it('left the rules, overrides, lists and Redis untouched', async () => {
      expect(await rule(a, 'public')).toMatchObject({
        limit: 10,
        windowMs: 60_000,
        mode: 'enforce',
        source: 'static',
      });
      expect((await call(a.url, 'GET', '/admin/rules/public/overrides')).body).toEqual([]);
      expect((await call(a.url, 'GET', '/admin/lists')).body).toEqual({ allow: [], block: [] });
      expect(await redis.keys(`${prefix}:{cfg}:*`)).toEqual([]);
    });
  });

  it.each([
    ['PATCH', '/admin/rules/nope', { limit: 5 }],
    ['DELETE', '/admin/rules/nope', undefined],
    ['GET', '/admin/rules/nope/overrides', undefined],
    ['PUT', '/admin/rules/nope/overrides/203.0.113.9', { limit: 5 }],
    ['DELETE', '/admin/rules/nope/overrides/203.0.113.9', undefined],
    ['GET', '/admin/rules/nope/keys/203.0.113.9', undefined],
    ['DELETE', '/admin/rules/nope/keys/203.0.113.9', undefined],
    ['PUT', '/admin/lists/grey/203.0.113.9', undefined],
  ])('%s %s answers 404', async (method, path, body) => {
    const res = await call(b.url, method, path, { body });
    expect(res.status).toBe(404);
    expect(res.body.message).toMatch(/nope|grey/);
  });

  describe('rule overrides', () => {
    it('a patch on one instance is in force on the other within 2 s', async () => {
      const patched = await call(a.url, 'PATCH', '/admin/rules/public', { body: { limit: 3 } });
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({
        name: 'public',
        algorithm: 'sliding-window-log',
        limit: 3,
        windowMs: 60_000,
        mode: 'enforce',
        source: 'override',
      });
      await within(PROPAGATION_MS, async () => (await rule(b, 'public')).limit === 3);
      const ip = freshIp();
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const res = await call(b.url, 'GET', '/api/public', { ip, token: null });
        statuses.push(res.status);
        expect(res.headers.get('x-ratelimit-limit')).toBe('3');
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    });

    it('a second patch merges with the first', async () => {
      const res = await call(b.url, 'PATCH', '/admin/rules/public', { body: { windowMs: 30_000 } });
      expect(res.body).toMatchObject({ limit: 3, windowMs: 30_000, source: 'override' });
      await within(PROPAGATION_MS, async () => (await rule(a, 'public')).windowMs === 30_000);
    });

    it('a restarted instance keeps the override from its first request', async () => {
      await b.close();
      b = await start('fastify');
      expect(await rule(b, 'public')).toMatchObject({
        limit: 3,
        windowMs: 30_000,
        source: 'override',
      });
      const res = await call(b.url, 'GET', '/api/public', { ip: freshIp(), token: null });
      expect(res.headers.get('x-ratelimit-limit')).toBe('3');
      expect(res.headers.get('ratelimit-policy')).toBe('"public";q=3;w=30');
    });

    it('dropping the override restores the static rule everywhere', async () => {
      const dropped = await call(b.url, 'DELETE', '/admin/rules/public');
      expect(dropped.status).toBe(204);
      expect(dropped.body).toBeUndefined();
      await within(PROPAGATION_MS, async () => (await rule(a, 'public')).source === 'static');
      expect(await rule(a, 'public')).toEqual({
        name: 'public',
        algorithm: 'sliding-window-log',
        limit: 10,
        windowMs: 60_000,
        mode: 'enforce',
        source: 'static',
      });
      const res = await call(a.url, 'GET', '/api/public', { ip: freshIp(), token: null });
      expect(res.headers.get('x-ratelimit-limit')).toBe('10');
    });

    it('a limit patched on a tiered rule caps every tier; exempt stays exempt', async () => {
      const res = await call(a.url, 'PATCH', '/admin/rules/premium', { body: { limit: 2 } });
      expect(res.body).toMatchObject({
        limit: 2,
        tiers: { free: 2, pro: 2, enterprise: 'exempt' },
        source: 'override',
      });
      await within(PROPAGATION_MS, async () => (await rule(b, 'premium')).limit === 2);
      const pro = await call(b.url, 'GET', '/api/premium', { apiKey: 'demo-pro', token: null });
      expect(pro.headers.get('x-ratelimit-limit')).toBe('2');
      const enterprise = await call(b.url, 'GET', '/api/premium', {
        apiKey: 'demo-enterprise',
        token: null,
      });
      expect(enterprise.status).toBe(200);
      expect(enterprise.headers.get('x-ratelimit-limit')).toBeNull();
      expect((await call(a.url, 'DELETE', '/admin/rules/premium')).status).toBe(204);
      await within(PROPAGATION_MS, async () => (await rule(b, 'premium')).source === 'static');
      expect((await rule(b, 'premium')).tiers).toEqual({
        free: 100,
        pro: 1000,
        enterprise: 'exempt',
      });
    });

    it('a change written to Redis without a pub/sub message is picked up by the periodic re-read', async () => {
      // What an instance sees when it missed the message (e.g. its subscriber was reconnecting).
      await redis.hset(`${prefix}:{cfg}:rules`, 'writes:limit', '7');
      await redis.hset(`${prefix}:{cfg}:version`, 'rules', randomUUID());
      await within(
        PROPAGATION_MS,
        async () => (await rule(a, 'writes')).limit === 7 && (await rule(b, 'writes')).limit === 7,
      );
      expect((await call(a.url, 'DELETE', '/admin/rules/writes')).status).toBe(204);
      await within(PROPAGATION_MS, async () => (await rule(b, 'writes')).limit === 20);
    });
  });

  describe('per-key overrides', () => {
    it('apply to that key only, on every instance', async () => {
      const capped = freshIp();
      const other = freshIp();
      const put = await call(a.url, 'PUT', `/admin/rules/public/overrides/${capped}`, {
        body: { limit: 2 },
      });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ rule: 'public', key: `ip=${capped}`, limit: 2, windowMs: 60_000 });
      await within(
        PROPAGATION_MS,
        async () => (await call(b.url, 'GET', '/admin/rules/public/overrides')).body.length === 1,
      );
      const cappedStatuses = [];
      for (let i = 0; i < 3; i++) {
        cappedStatuses.push(
          (await call(b.url, 'GET', '/api/public', { ip: capped, token: null })).status,
        );
      }
      expect(cappedStatuses).toEqual([200, 200, 429]);
      const free = await call(b.url, 'GET', '/api/public', { ip: other, token: null });
      expect(free.headers.get('x-ratelimit-limit')).toBe('10');
      expect(await rule(b, 'public')).toMatchObject({ limit: 10, source: 'static' });
    });

    it('cap an API key, even one whose tier is exempt, and are dropped with DELETE', async () => {
      const put = await call(b.url, 'PUT', '/admin/rules/premium/overrides/demo-enterprise', {
        body: { limit: 1, windowMs: 5_000 },
      });
      expect(put.body).toEqual({
        rule: 'premium',
        key: 'key=demo-enterprise',
        limit: 1,
        windowMs: 5_000,
      });
      await within(
        PROPAGATION_MS,
        async () => (await call(a.url, 'GET', '/admin/rules/premium/overrides')).body.length === 1,
      );
      const first = await call(a.url, 'GET', '/api/premium', {
        apiKey: 'demo-enterprise',
        token: null,
      });
      expect(first.status).toBe(200);
      expect(first.headers.get('x-ratelimit-limit')).toBe('1');
      expect(
        (await call(a.url, 'GET', '/api/premium', { apiKey: 'demo-enterprise', token: null }))
          .status,
      ).toBe(429);
      const pro = await call(a.url, 'GET', '/api/premium', { apiKey: 'demo-pro', token: null });
      expect(pro.headers.get('x-ratelimit-limit')).toBe('1000');

      expect(
        (await call(a.url, 'DELETE', '/admin/rules/premium/overrides/demo-enterprise')).status,
      ).toBe(204);
      await within(
        PROPAGATION_MS,
        async () => (await call(b.url, 'GET', '/admin/rules/premium/overrides')).body.length === 0,
      );
      const exempt = await call(b.url, 'GET', '/api/premium', {
        apiKey: 'demo-enterprise',
        token: null,
      });
      expect(exempt.status).toBe(200);
      expect(exempt.headers.get('x-ratelimit-limit')).toBeNull();
    });
  });

  describe('inspect and reset', () => {
    it('inspect reports what a key has left without charging it', async () => {
      const ip = freshIp();
      for (let i = 0; i < 3; i++) await call(a.url, 'GET', '/api/public', { ip, token: null });
      const before = Date.now();
      const looks = await Promise.all(
        [1, 2, 3].map(() => call(b.url, 'GET', `/admin/rules/public/keys/${ip}`)),
      );
      for (const look of looks) {
        expect(look.status).toBe(200);
        expect(look.body).toEqual({
          rule: 'public',
          key: ip,
          limit: 10,
          remaining: 7,
          resetAt: expect.any(Number),
        });
        expect(look.body.resetAt).toBeGreaterThan(before);
        expect(look.body.resetAt).toBeLessThanOrEqual(before + 61_000);
      }
      const next = await call(a.url, 'GET', '/api/public', { ip, token: null });
      expect(next.headers.get('x-ratelimit-remaining')).toBe('6');
      // The guard's own form of the identity names the same budget.
      expect((await call(a.url, 'GET', `/admin/rules/public/keys/ip=${ip}`)).body.remaining).toBe(
        6,
      );
    });

    it('inspect uses the tier given for a tiered rule', async () => {
      await call(a.url, 'GET', '/api/premium', { apiKey: 'demo-free', token: null });
      const free = await call(a.url, 'GET', '/admin/rules/premium/keys/demo-free?tier=free');
      expect(free.body).toMatchObject({
        rule: 'premium',
        key: 'demo-free',
        limit: 100,
        remaining: 99,
      });
      const exempt = await call(
        a.url,
        'GET',
        '/admin/rules/premium/keys/demo-enterprise?tier=enterprise',
      );
      expect(exempt.status).toBe(400);
      expect(exempt.body.message).toContain('tier');
    });

    it('reset clears the key, on every instance at once (the state is in Redis)', async () => {
      const ip = freshIp();
      for (let i = 0; i < 10; i++) await call(a.url, 'GET', '/api/public', { ip, token: null });
      expect((await call(b.url, 'GET', '/api/public', { ip, token: null })).status).toBe(429);
      const reset = await call(a.url, 'DELETE', `/admin/rules/public/keys/${ip}`);
      expect(reset.status).toBe(204);
      expect((await call(b.url, 'GET', `/admin/rules/public/keys/${ip}`)).body.remaining).toBe(10);
      const after = await call(b.url, 'GET', '/api/public', { ip, token: null });
      expect(after.status).toBe(200);
      expect(after.headers.get('x-ratelimit-remaining')).toBe('9');
    });
  });

  describe('dry-run', () => {
    it('never denies, marks the would-be denials and counts them as dry_run_denied', async () => {
      const patched = await call(a.url, 'PATCH', '/admin/rules/public', {
        body: { mode: 'dry-run', limit: 2 },
      });
      expect(patched.body).toMatchObject({ mode: 'dry-run', limit: 2, source: 'override' });
      await within(PROPAGATION_MS, async () => (await rule(b, 'public')).mode === 'dry-run');
      const before = (await call(b.url, 'GET', '/admin/stats')).body.rules.public;
      const ip = freshIp();
      const replies = [];
      for (let i = 0; i < 5; i++)
        replies.push(await call(b.url, 'GET', '/api/public', { ip, token: null }));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      const marks = replies.map((r) => r.headers.get('x-ratelimit-dry-run'));
      expect(marks).toEqual([null, null, 'would-deny', 'would-deny', 'would-deny']);
      expect(replies.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual([
        '1',
        '0',
        '0',
        '0',
        '0',
      ]);
      expect(replies.every((r) => r.headers.get('retry-after') === null)).toBe(true);
      const after = (await call(b.url, 'GET', '/admin/stats')).body.rules.public;
      expect(after).toMatchObject({
        allowed: before.allowed + 2,
        denied: before.denied,
        dryRunDenied: before.dryRunDenied + 3,
      });
    });

    it('back in enforce mode, the same rule denies', async () => {
      await call(b.url, 'PATCH', '/admin/rules/public', { body: { mode: 'enforce' } });
      await within(PROPAGATION_MS, async () => (await rule(a, 'public')).mode === 'enforce');
      const ip = freshIp();
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await call(a.url, 'GET', '/api/public', { ip, token: null })).status);
      expect(statuses).toEqual([200, 200, 429]);
      await call(b.url, 'DELETE', '/admin/rules/public');
      await within(PROPAGATION_MS, async () => (await rule(a, 'public')).source === 'static');
    });
  });

  describe('allow and block lists', () => {
    it('a blocked IP gets 403 with no rate-limit headers on every instance', async () => {
      const ip = freshIp();
      const put = await call(a.url, 'PUT', `/admin/lists/block/${ip}`);
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ list: 'block', id: `ip=${ip}` });
      await within(PROPAGATION_MS, async () =>
        (await call(b.url, 'GET', '/admin/lists')).body.block.includes(`ip=${ip}`),
      );
      for (const app of [a, b]) {
        const res = await call(app.url, 'GET', '/api/public', { ip, token: null });
        expect(res.status).toBe(403);
        expect(res.body).toEqual({
          statusCode: 403,
          error: 'Forbidden',
          message: expect.any(String),
        });
        for (const header of [
          'x-ratelimit-limit',
          'x-ratelimit-remaining',
          'ratelimit',
          'ratelimit-policy',
          'retry-after',
        ]) {
          expect(res.headers.get(header)).toBeNull();
        }
      }
      expect((await call(b.url, 'DELETE', `/admin/lists/block/${ip}`)).status).toBe(204);
      await within(
        PROPAGATION_MS,
        async () => (await call(a.url, 'GET', '/api/public', { ip, token: null })).status === 200,
      );
    });

    it('blocks a whole subnet, and blocks by API key', async () => {
      // A CIDR's slash is URL-encoded: it sits in one path segment.
      const subnet = await call(
        b.url,
        'PUT',
        `/admin/lists/block/${encodeURIComponent('198.51.100.0/24')}`,
      );
      expect(subnet.body).toEqual({ list: 'block', id: 'ip=198.51.100.0/24' });
      await call(b.url, 'PUT', '/admin/lists/block/key=bad-writer');
      await within(
        PROPAGATION_MS,
        async () => (await call(a.url, 'GET', '/admin/lists')).body.block.length === 2,
      );
      expect(
        (await call(a.url, 'GET', '/api/public', { ip: '198.51.100.77', token: null })).status,
      ).toBe(403);
      const post = await fetch(`${a.url}/api/data`, {
        method: 'POST',
        headers: { 'X-API-Key': 'bad-writer', 'X-Forwarded-For': freshIp() },
      });
      expect(post.status).toBe(403);
      expect((await call(a.url, 'DELETE', '/admin/lists/block/198.51.100.0%2F24')).status).toBe(
        204,
      );
      expect((await call(a.url, 'DELETE', '/admin/lists/block/key=bad-writer')).status).toBe(204);
      await within(
        PROPAGATION_MS,
        async () => (await call(b.url, 'GET', '/admin/lists')).body.block.length === 0,
      );
    });

    it('an allowlisted API key bypasses every rule and gets no rate-limit headers', async () => {
      const put = await call(b.url, 'PUT', '/admin/lists/allow/vip-key');
      expect(put.body).toEqual({ list: 'allow', id: 'key=vip-key' });
      await within(PROPAGATION_MS, async () =>
        (await call(a.url, 'GET', '/admin/lists')).body.allow.includes('key=vip-key'),
      );
      const before = (await call(a.url, 'GET', '/admin/stats')).body.rules['writes-burst'];
      // writes-burst admits 5; an allowlisted caller is never counted against it.
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`${a.url}/api/data`, {
          method: 'POST',
          headers: { 'X-API-Key': 'vip-key' },
        });
        expect(res.status).toBe(201);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      const { allowed, denied, dryRunDenied } = before;
      expect((await call(a.url, 'GET', '/admin/stats')).body.rules['writes-burst']).toMatchObject({
        allowed,
        denied,
        dryRunDenied,
      });
      expect((await call(a.url, 'GET', '/admin/lists')).body).toEqual({
        allow: ['key=vip-key'],
        block: [],
      });
      expect((await call(a.url, 'DELETE', '/admin/lists/allow/vip-key')).status).toBe(204);
      await within(
        PROPAGATION_MS,
        async () => (await call(b.url, 'GET', '/admin/lists')).body.allow.length === 0,
      );
    });
  });

  it('stats show per-rule counts of the instance, the store and where changes live', async () => {
    const { status, body } = await call(a.url, 'GET', '/admin/stats');
    expect(status).toBe(200);
    expect(body.store).toEqual({ mode: 'redis', breaker: 'closed' });
    expect(body.config).toBe('redis');
    for (const name of ['public', 'premium', 'writes', 'writes-burst']) {
      expect(body.rules[name]).toEqual({
        allowed: expect.any(Number),
        denied: expect.any(Number),
        dryRunDenied: expect.any(Number),
        topKeys: expect.any(Array),
      });
    }
    expect(body.rules.public.allowed).toBeGreaterThan(0);
    expect(body.rules.public.denied).toBeGreaterThan(0);
  });

  it('keeps config in four small hashes without TTL; every other key has one', async () => {
    const keys = await keysWithTtl(redis, prefix);
    const allowed = ['keys', 'lists', 'rules', 'version'].map((c) => `${prefix}:{cfg}:${c}`);
    const config = [...keys].filter(([key]) => key.includes(':{cfg}:'));
    expect(config.map(([key]) => key)).toContain(`${prefix}:{cfg}:version`);
    for (const [key, ttl] of config) {
      expect(allowed).toContain(key);
      expect({ key, ttl }).toEqual({ key, ttl: -1 });
    }
    for (const [key, ttl] of keys)
      if (!key.includes(':{cfg}:')) expect({ key, ttl: ttl > 0 }).toEqual({ key, ttl: true });
  });
});

describe('admin API without Redis or without a token', () => {
  let local: RunningApp;
  let closed: RunningApp;

  beforeAll(async () => {
    [local, closed] = await Promise.all([
      startDemo({ ADMIN_TOKEN: TOKEN }, { keyPrefix: uniquePrefix('admin-local') }),
      startDemo({}, { keyPrefix: uniquePrefix('admin-none') }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([local?.close(), closed?.close()]);
  });

  it('answers 404 on every admin route when ADMIN_TOKEN is unset, token or not', async () => {
    for (const [method, path] of [
      ['GET', '/admin/rules'],
      ['PATCH', '/admin/rules/public'],
      ['GET', '/admin/stats'],
    ]) {
      expect((await call(closed.url, method, path, { token: null })).status).toBe(404);
      expect((await call(closed.url, method, path)).status).toBe(404);
    }
  });

  it('with the memory store, changes apply at once to this instance and stats say they are local', async () => {
    const res = await call(local.url, 'PATCH', '/admin/rules/public', { body: { limit: 1 } });
    expect(res.body).toMatchObject({ limit: 1, source: 'override' });
    expect((await call(local.url, 'GET', '/api/public', { token: null })).status).toBe(200);
    expect((await call(local.url, 'GET', '/api/public', { token: null })).status).toBe(429);
    const stats = await call(local.url, 'GET', '/admin/stats');
    expect(stats.body).toMatchObject({
      store: { mode: 'memory', breaker: 'closed' },
      config: 'local',
    });
    expect(stats.body.rules.public).toEqual({
      allowed: 1,
      denied: 1,
      dryRunDenied: 0,
      topKeys: [{ key: expect.stringMatching(/^[0-9a-f]{16}$/), denied: 1 }],
    });
  });
});
