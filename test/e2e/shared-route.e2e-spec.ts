import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { RedisServer } from '../support/redis-server.js';

const TOKEN = 'shared-route-admin-token-0123';

/**
 * `GET /api/shared`: one budget of 40 per second for every caller, split 3:1 between paying keys
 * (`high`) and everyone else (`low`) while both ask for more.
 */
describe.each([
  ['Redis, three instances (Express, Fastify, Express)', true],
  ['the memory store, one instance', false],
] as const)('GET /api/shared on %s', (_, onRedis) => {
  let server: RedisServer | undefined;
  let apps: RunningApp[] = [];

  beforeAll(async () => {
    const prefix = uniquePrefix('shared');
    if (onRedis) server = await RedisServer.start();
    const adapters = onRedis
      ? (['express', 'fastify', 'express'] as const)
      : (['fastify'] as const);
    apps = await Promise.all(
      adapters.map((adapter) =>
        startDemo(
          {
            HTTP_ADAPTER: adapter,
            ADMIN_TOKEN: TOKEN,
            ...(server ? { REDIS_URL: server.url } : {}),
          },
          { keyPrefix: prefix },
        ),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await server?.stop();
  });

  /** Both classes flood every instance for `ms`; the admission times per class, from the start. */
  async function flood(ms: number, classes: Array<'high' | 'low'>) {
    const started = performance.now();
    const admitted: Record<string, number[]> = { high: [], low: [] };
    const headers = { high: { 'X-API-Key': 'demo-pro' }, low: { 'X-API-Key': 'demo-free' } };
    const loops = classes.flatMap((cls) =>
      apps.flatMap((app) =>
        Array.from({ length: 4 }, async () => {
          while (performance.now() - started < ms) {
            const res = await fetch(`${app.url}/api/shared`, { headers: headers[cls] });
            await res.arrayBuffer();
            if (res.status === 200) admitted[cls].push(performance.now() - started);
            else expect(res.status).toBe(429);
          }
        }),
      ),
    );
    await Promise.all(loops);
    return admitted;
  }
  const within = (times: number[], from: number, to: number) =>
    times.filter((t) => t >= from && t < to).length;

  it('is listed by the admin API with its classes and weights', async () => {
    const res = await fetch(`${apps[0].url}/admin/rules`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const rules = (await res.json()) as Array<Record<string, unknown>>;
    expect(rules.find((r) => r.name === 'shared')).toEqual({
      name: 'shared',
      algorithm: 'weighted-token-bucket',
      limit: 40,
      windowMs: 1_000,
      mode: 'enforce',
      source: 'static',
      classes: { high: 3, low: 1 },
    });
  });

  it('changes its weights at runtime like a limit, on every instance, and refuses classes it does not have', async () => {
    const admin = (app: RunningApp, method: string, path: string, body?: unknown) =>
      fetch(`${app.url}/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const patched = await admin(apps[0], 'PATCH', '/rules/shared', { classes: { low: 2 } });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      source: 'override',
      classes: { high: 3, low: 2 },
    });
    const last = apps[apps.length - 1];
    const seen = async () =>
      (
        (await (await admin(last, 'GET', '/rules')).json()) as Array<{
          name: string;
          classes?: unknown;
        }>
      ).find((r) => r.name === 'shared')?.classes;
    const started = performance.now();
    while (JSON.stringify(await seen()) !== JSON.stringify({ high: 3, low: 2 })) {
      expect(performance.now() - started).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const unknown = await admin(apps[0], 'PATCH', '/rules/shared', { classes: { vip: 5 } });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toContain('classes.vip');
    const notWeighted = await admin(apps[0], 'PATCH', '/rules/public', { classes: { high: 1 } });
    expect(notWeighted.status).toBe(400);
    expect((await admin(apps[0], 'DELETE', '/rules/shared')).status).toBe(204);
    const back = await admin(apps[0], 'GET', '/rules');
    expect(
      ((await back.json()) as Array<{ name: string; classes?: unknown }>).find(
        (r) => r.name === 'shared',
      )?.classes,
    ).toEqual({
      high: 3,
      low: 1,
    });
  });

  it('splits 3:1 within 15% over 2 s after the first second, within the cap plus one burst', async () => {
    const admitted = await flood(3_200, ['high', 'low']);
    const high = within(admitted.high, 1_000, 3_000);
    const low = within(admitted.low, 1_000, 3_000);
    expect(high / low).toBeGreaterThanOrEqual(3 * 0.85);
    expect(high / low).toBeLessThanOrEqual(3 * 1.15);
    const all = [...admitted.high, ...admitted.low];
    // 40 per second plus one burst of 40, with a little room for when the answers arrived.
    expect(within(all, 0, 1_000)).toBeLessThanOrEqual(2 * 40 + 2);
    expect(within(all, 1_000, 3_000)).toBeLessThanOrEqual(3 * 40 + 2);
  }, 20_000);

  it('gives one class alone the whole cap', async () => {
    // Let the budget refill first: the previous flood emptied it.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const admitted = await flood(3_200, ['low']);
    // low's own share is 10 per second; alone it gets about 40.
    expect(within(admitted.low, 1_000, 3_000)).toBeGreaterThanOrEqual(2 * 40 * 0.85);
    expect(within(admitted.low, 1_000, 3_000)).toBeLessThanOrEqual(2 * 40 + 40 + 2);
  }, 20_000);
});
