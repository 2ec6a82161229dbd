import { request as httpRequest } from 'node:http';
import { ADAPTERS, startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

const TOKEN = 'hardening-admin-token';

interface Reply {
  status: number;
  // Parsed JSON of any shape; each test reads the fields it expects.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

interface CallOptions {
  body?: string;
  /** Bearer token; `null` sends none. @default TOKEN */
  token?: string | null;
  /** `X-Forwarded-For` as sent (the demo trusts the proxy). */
  forwardedFor?: string;
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
  if (options.forwardedFor) headers['X-Forwarded-For'] = options.forwardedFor;
  if (options.apiKey) headers['X-API-Key'] = options.apiKey;
  const res = await fetch(`${url}${path}`, { method, headers, body: options.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: kept as text.
  }
  return { status: res.status, body, headers: res.headers };
}

/** A GET whose `X-API-Key` carries the UTF-8 bytes of `apiKey`, as an HTTP client sends a non-ASCII key. */
function getWithUtf8Key(url: string, path: string, apiKey: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}${path}`,
      { headers: { 'X-API-Key': Buffer.from(apiKey).toString('latin1') } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let nextHost = 1;
const freshIp = () => `198.51.100.${nextHost++}`;

describe.each(ADAPTERS)('bad input is refused where it enters, on %s', (adapter) => {
  let server: RedisServer;
  let app: RunningApp;
  const prefix = uniquePrefix(`hardening-${adapter}`);

  beforeAll(async () => {
    server = await RedisServer.start();
    app = await startDemo(
      { HTTP_ADAPTER: adapter, REDIS_URL: server.url, ADMIN_TOKEN: TOKEN, TRUST_PROXY: 'true' },
      { keyPrefix: prefix },
    );
  });
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  describe('X-Forwarded-For', () => {
    it('never makes a hop with a port a fresh budget: the address that forwarded it is the client', async () => {
      const client = freshIp();
      const statuses: number[] = [];
      for (let port = 1; port <= 11; port++) {
        statuses.push(
          (
            await call(app.url, 'GET', '/api/public', {
              token: null,
              forwardedFor: `6.6.6.6:${port}, ${client}`,
            })
          ).status,
        );
      }
      expect(statuses).toEqual([...Array(10).fill(200), 429]);
    });

    it('does not let junk in the header bypass the blocklist', async () => {
      const client = freshIp();
      expect((await call(app.url, 'PUT', `/admin/lists/block/${client}`)).status).toBe(200);
      for (const junk of ['1.2.3.4:5678', 'unknown', '[::1]', 'evil']) {
        const res = await call(app.url, 'GET', '/api/public', {
          token: null,
          forwardedFor: `${junk}, ${client}`,
        });
        expect({ junk, status: res.status }).toEqual({ junk, status: 403 });
      }
    });
  });

  it('keys IPv6 clients per /64: the addresses of one network share a budget', async () => {
    const net = `2001:db8:${(nextHost++).toString(16)}:1`;
    const statuses: number[] = [];
    for (let host = 1; host <= 11; host++) {
      statuses.push(
        (
          await call(app.url, 'GET', '/api/public', {
            token: null,
            forwardedFor: `${net}::${host.toString(16)}`,
          })
        ).status,
      );
    }
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
    const other = await call(app.url, 'GET', '/api/public', {
      token: null,
      forwardedFor: `2001:db8:ffff:2::1`,
    });
    expect(other.status).toBe(200);
    const look = await call(
      app.url,
      'GET',
      `/admin/rules/public/keys/${encodeURIComponent(`${net}::abcd`)}`,
    );
    expect(look.body).toMatchObject({ remaining: 0 });
  });

  describe('admin API', () => {
    it('echoes the key as given when inspecting', async () => {
      const look = await call(app.url, 'GET', '/admin/rules/writes/keys/demo-free');
      expect(look.status).toBe(200);
      expect(look.body).toMatchObject({ rule: 'writes', key: 'demo-free', limit: 20 });
    });

    it('refuses a tier from the prototype chain with 400, however often', async () => {
      for (let i = 0; i < 6; i++) {
        const res = await call(
          app.url,
          'GET',
          '/admin/rules/premium/keys/demo-free?tier=__proto__',
        );
        expect(res.status).toBe(400);
        expect(res.body.message).toBe('tier must be one of free, pro, enterprise');
      }
      expect(
        (await call(app.url, 'GET', '/admin/rules/premium/keys/demo-free?tier=free')).status,
      ).toBe(200);
      expect((await call(app.url, 'GET', '/health')).status).toBe(200);
    });

    it.each(['1.2.3.4/33', '10.0.0.0/99', '2001:db8::/129', ' padded'])(
      'refuses the entry %j that could never match',
      async (entry) => {
        const res = await call(app.url, 'PUT', `/admin/lists/block/${encodeURIComponent(entry)}`);
        expect(res.status).toBe(400);
        expect((await call(app.url, 'GET', '/admin/lists')).body.block).not.toContain(
          `key=${entry}`,
        );
      },
    );

    it('manages a 300-character API key: list, cap, inspect, reset', async () => {
      const key = `k${'0123456789'.repeat(30)}`.slice(0, 300);
      expect((await call(app.url, 'PUT', `/admin/lists/allow/${key}`)).status).toBe(200);
      expect((await call(app.url, 'DELETE', `/admin/lists/allow/${key}`)).status).toBe(204);
      expect(
        (
          await call(app.url, 'PUT', `/admin/rules/writes/overrides/${key}`, {
            body: '{"limit":3}',
          })
        ).status,
      ).toBe(200);
      expect((await call(app.url, 'GET', `/admin/rules/writes/keys/${key}`)).body).toMatchObject({
        key,
        limit: 3,
      });
      expect((await call(app.url, 'DELETE', `/admin/rules/writes/keys/${key}`)).status).toBe(204);
    });

    it('matches a non-ASCII API key sent as UTF-8 against the entry written for it', async () => {
      const key = `ключ-${adapter}`;
      expect(
        (await call(app.url, 'PUT', `/admin/lists/block/${encodeURIComponent(key)}`)).status,
      ).toBe(200);
      expect(await getWithUtf8Key(app.url, '/api/public', key)).toBe(403);
      expect(await getWithUtf8Key(app.url, '/api/public', `${key}-other`)).toBe(200);
    });

    it('locks an IP out after 10 failed authentications, the right token included, and only that IP', async () => {
      const guesser = freshIp();
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        statuses.push(
          (
            await call(app.url, 'GET', '/admin/rules', {
              token: `guess-number-${i}-xxxxxxxx`,
              forwardedFor: guesser,
            })
          ).status,
        );
      }
      expect(statuses).toEqual([...Array(10).fill(401), 429]);
      const right = await call(app.url, 'GET', '/admin/rules', { forwardedFor: guesser });
      expect(right.status).toBe(429);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await call(app.url, 'GET', '/admin/rules', { forwardedFor: freshIp() })).status).toBe(
        200,
      );
    });
  });

  describe('absurd JSON', () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;

    it.each([
      ['POST', '/api/data', { apiKey: 'demo-pro', token: null }],
      ['PATCH', '/admin/rules/public', {}],
    ] as const)(
      'answers 400, not 500, for 10 KB of nesting on %s %s',
      async (method, path, options) => {
        const res = await call(app.url, method, path, { ...options, body: deep });
        expect(res.status).toBe(400);
        expect(res.body.message).toMatch(/nests deeper than 32 levels/);
      },
    );

    it('still accepts ordinary nested bodies', async () => {
      const body = JSON.stringify({ a: { b: [1, { c: '[[[[' }] } });
      const res = await call(app.url, 'POST', '/api/data', {
        apiKey: 'demo-enterprise',
        token: null,
        body,
      });
      expect(res.status).toBe(201);
      expect(res.body.received).toEqual(JSON.parse(body));
    });
  });

  describe('while Redis cannot answer', () => {
    it('inspect and reset answer 503, never a fallback number', async () => {
      const ip = freshIp();
      for (let i = 0; i < 3; i++)
        await call(app.url, 'GET', '/api/public', { token: null, forwardedFor: ip });
      server.pause();
      try {
        const look = await call(app.url, 'GET', `/admin/rules/public/keys/${ip}`);
        expect(look.status).toBe(503);
        expect(look.body.remaining).toBeUndefined();
        expect((await call(app.url, 'DELETE', `/admin/rules/public/keys/${ip}`)).status).toBe(503);
      } finally {
        server.resume();
      }
    });
  });
});

describe('boot refuses an admin token that is easy to guess or cannot be sent', () => {
  it.each(['short', 'sixteen-or-more but-with-a-space'])('ADMIN_TOKEN=%j', async (token) => {
    await expect(
      startDemo({ ADMIN_TOKEN: token }, { keyPrefix: uniquePrefix('hardening-boot') }),
    ).rejects.toThrow(/ADMIN_TOKEN: must be at least 16 characters with no whitespace/);
  });
});
