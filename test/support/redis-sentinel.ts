import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';

export interface RedisSentinelOptions {
  /** The master's name at the sentinels. @default 'mymaster' */
  name?: string;
  /** `down-after-milliseconds`: how long a silent master takes to be declared down. @default 1000 */
  downAfterMs?: number;
  /** `failover-timeout`. @default 2000 */
  failoverTimeoutMs?: number;
}

const admin = (port: number) => new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });

/**
 * A real Sentinel deployment on free ports: one master, one replica, three sentinels (quorum 2),
 * each sentinel with its config file in a temporary folder (sentinels rewrite it).
 */
export class RedisSentinelGroup {
  private constructor(
    readonly name: string,
    /** [master, replica] as started; which one is master now: `master()`. */
    readonly servers: RedisServer[],
    readonly sentinels: RedisServer[],
    private readonly dir: string,
  ) {}

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinelGroup> {
    const name = options.name ?? 'mymaster';
    const dir = await mkdtemp(join(tmpdir(), 'rl-sentinel-'));
    const master = await RedisServer.start();
    const replica = await RedisServer.start(['--replicaof', '127.0.0.1', String(master.port)]);
    const sentinels = await Promise.all(
      [0, 1, 2].map((i) =>
        RedisServer.startWithConfig(
          async (port) => {
            const file = join(dir, `sentinel-${i}.conf`);
            await writeFile(
              file,
              [
                `port ${port}`,
                `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
                `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1_000}`,
                `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 2_000}`,
                `sentinel parallel-syncs ${name} 1`,
                '',
              ].join('\n'),
            );
            return file;
          },
          ['--sentinel'],
        ),
      ),
    );
    const group = new RedisSentinelGroup(name, [master, replica], sentinels, dir);
    try {
      await group.untilSettled(master);
    } catch (error) {
      await group.stop();
      throw error;
    }
    return group;
  }

  /** `[{ host, port }]` of the sentinels, for ioredis. */
  get sentinelNodes(): Array<{ host: string; port: number }> {
    return this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** `host:port,...` as the demo's `REDIS_SENTINELS` reads it. */
  get sentinelsEnv(): string {
    return this.sentinelNodes.map(({ host, port }) => `${host}:${port}`).join(',');
  }

  /** The server every sentinel names as master. */
  async master(): Promise<RedisServer | undefined> {
    const ports = await Promise.all(
      this.sentinels.map(async (sentinel) => {
        const client = admin(sentinel.port);
        try {
          const [, port] = (await client.call(
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            this.name,
          )) as [string, string];
          return Number(port);
        } finally {
          client.disconnect();
        }
      }),
    );
    if (new Set(ports).size !== 1) return undefined;
    return this.servers.find((s) => s.port === ports[0]);
  }

  /** Waits until every sentinel names a master other than `previous` and that server says it is master. */
  async untilPromoted(previous: RedisServer, timeoutMs = 15_000): Promise<RedisServer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const master = await this.master().catch(() => undefined);
      if (master && master !== previous && (await roleOf(master)) === 'master') return master;
      if (Date.now() > deadline) throw new Error(`no promotion within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Every sentinel sees the master, its replica in sync, and the two other sentinels. */
  private async untilSettled(master: RedisServer): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const views = await Promise.all(
        this.sentinels.map(async (sentinel) => {
          const client = admin(sentinel.port);
          try {
            const flat = (await client.call('SENTINEL', 'MASTER', this.name)) as string[];
            const info: Record<string, string> = {};
            for (let i = 0; i < flat.length; i += 2) info[flat[i]] = flat[i + 1];
            return info;
          } finally {
            client.disconnect();
          }
        }),
      );
      const replicaLink = await withAdmin(this.servers[1].port, (client) =>
        client.info('replication'),
      )
        .then((info) => info.includes('master_link_status:up'))
        .catch(() => false);
      const settled = views.every(
        (v) =>
          Number(v.port) === master.port &&
          v['num-slaves'] === '1' &&
          v['num-other-sentinels'] === '2',
      );
      if (settled && replicaLink) return;
      if (Date.now() > deadline)
        throw new Error(`Sentinels not settled:\n${JSON.stringify(views)}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.servers].map((s) => s.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function withAdmin<T>(port: number, run: (client: Redis) => Promise<T>): Promise<T> {
  const client = admin(port);
  try {
    return await run(client);
  } finally {
    client.disconnect();
  }
}

async function roleOf(server: RedisServer): Promise<string> {
  return withAdmin(
    server.port,
    async (client) => ((await client.call('ROLE')) as [string])[0],
  ).catch(() => 'down');
}
