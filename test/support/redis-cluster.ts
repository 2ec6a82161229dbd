import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';

const SLOTS = 16_384;

export interface RedisClusterOptions {
  /** Replicas per master. @default 0 */
  replicas?: number;
  /**
   * `cluster-node-timeout`: how long a silent master takes to be declared failed, and so how long
   * a failover takes (about this plus one second of replica election).
   * @default 5000 (ms)
   */
  nodeTimeoutMs?: number;
}

/** One line of `CLUSTER NODES`. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: string[];
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
      return {
        id,
        port: Number(address.split(':')[1].split('@')[0]),
        flags: flags.split(','),
        masterId,
        slots,
      };
    });
}

const admin = (port: number) =>
  new Redis(port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });

/**
 * A real Redis Cluster of redis-server processes on free ports, each node with its own temporary
 * folder for `nodes.conf`. Slots are split evenly in order over the masters; replicas, when asked
 * for, follow the masters in order.
 */
export class RedisCluster {
  private constructor(
    /** Every node, masters first (in slot order), then replicas. */
    readonly nodes: RedisServer[],
    private readonly dirs: string[],
  ) {}

  static async start(masters = 3, options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 0;
    const total = masters * (1 + replicas);
    const dirs = await Promise.all(
      Array.from({ length: total }, () => mkdtemp(join(tmpdir(), 'rl-cluster-'))),
    );
    const nodes = await Promise.all(
      dirs.map((dir) =>
        RedisServer.start([
          '--cluster-enabled',
          'yes',
          '--dir',
          dir,
          '--cluster-node-timeout',
          String(options.nodeTimeoutMs ?? 5_000),
          // A replica may be promoted however long it was cut off from its master (the tests kill masters).
          '--cluster-replica-validity-factor',
          '0',
        ]),
      ),
    );
    const cluster = new RedisCluster(nodes, dirs);
    const admins = nodes.map((node) => admin(node.port));
    try {
      await Promise.all(
        admins.slice(0, masters).map(async (client, i) => {
          // Distinct epochs spare the nodes a round of conflict resolution.
          await client.cluster('SET-CONFIG-EPOCH', i + 1);
          const from = Math.floor((SLOTS * i) / masters);
          const to = Math.floor((SLOTS * (i + 1)) / masters) - 1;
          await client.call('CLUSTER', 'ADDSLOTSRANGE', from, to);
        }),
      );
      for (const node of nodes.slice(1)) await admins[0].cluster('MEET', '127.0.0.1', node.port);
      await cluster.untilKnown(admins);
      const ids = await Promise.all(
        admins.map((client) => client.cluster('MYID') as Promise<string>),
      );
      await Promise.all(
        admins.slice(masters).map((client, i) => client.cluster('REPLICATE', ids[i % masters])),
      );
      await cluster.untilReady(admins, masters, replicas);
    } catch (error) {
      await cluster.stop();
      throw error;
    } finally {
      admins.forEach((client) => client.disconnect());
    }
    return cluster;
  }

  /** Start nodes for an ioredis `Cluster` (the masters; it discovers the replicas). */
  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  /** `host:port,...` as the demo's `REDIS_CLUSTER_NODES` reads it. */
  get nodesEnv(): string {
    return this.startupNodes.map(({ host, port }) => `${host}:${port}`).join(',');
  }

  /** The slot of a key (CRC16 as the nodes compute it). */
  async keySlot(key: string): Promise<number> {
    return this.withLiveNode(async (client) => Number(await client.cluster('KEYSLOT', key)));
  }

  /** The node serving `slot` as master now, as a live node sees it. */
  async masterOf(slot: number): Promise<RedisServer> {
    const lines = await this.withLiveNode(async (client) =>
      parseNodes((await client.cluster('NODES')) as string),
    );
    const owner = lines.find(
      (line) =>
        !line.flags.includes('fail') && line.flags.includes('master') && ownsSlot(line, slot),
    );
    const node = this.nodes.find((n) => n.port === owner?.port);
    if (!node) throw new Error(`no live master serves slot ${slot}`);
    return node;
  }

  /**
   * Waits until a node other than `previous` serves `slot` as master and the cluster state is ok
   * on every live node; returns the new master.
   */
  async untilPromoted(
    slot: number,
    previous: RedisServer,
    timeoutMs = 15_000,
  ): Promise<RedisServer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const master = await this.masterOf(slot);
        if (master !== previous && (await this.everyLiveNodeOk())) return master;
      } catch {
        // No master yet: keep polling.
      }
      if (Date.now() > deadline)
        throw new Error(`slot ${slot} not promoted within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /**
   * Moves `slot` to master `to` the way `redis-cli --cluster reshard` does: IMPORTING on the
   * target, MIGRATING on the source, the keys moved `keysPerMigrate` at a time (`pauseMs` between
   * batches; with one key a batch, a multi-key script sees the slot half moved: TRYAGAIN), then
   * the new owner announced to every master. Meanwhile a key already moved is redirected (ASK).
   */
  async moveSlot(
    slot: number,
    to: RedisServer,
    { pauseMs = 0, keysPerMigrate = 10 } = {},
  ): Promise<void> {
    const from = await this.masterOf(slot);
    if (from === to) throw new Error(`slot ${slot} is already on ${to.port}`);
    const [source, target] = [admin(from.port), admin(to.port)];
    try {
      const [sourceId, targetId] = await Promise.all([
        source.cluster('MYID'),
        target.cluster('MYID'),
      ]);
      await target.cluster('SETSLOT', slot, 'IMPORTING', sourceId as string);
      await source.cluster('SETSLOT', slot, 'MIGRATING', targetId as string);
      for (;;) {
        const keys = (await source.cluster('GETKEYSINSLOT', slot, keysPerMigrate)) as string[];
        if (keys.length === 0) break;
        await source.migrate('127.0.0.1', to.port, '', 0, 5_000, 'KEYS', ...keys);
        if (pauseMs > 0) await sleep(pauseMs);
      }
      await target.cluster('SETSLOT', slot, 'NODE', targetId as string);
      await source.cluster('SETSLOT', slot, 'NODE', targetId as string);
      const masters = parseNodes((await target.cluster('NODES')) as string).filter(
        (l) => l.flags.includes('master') && !l.flags.includes('fail'),
      );
      await Promise.all(
        masters.map(async ({ port }) => {
          const client = admin(port);
          try {
            await client.cluster('SETSLOT', slot, 'NODE', targetId as string);
          } finally {
            client.disconnect();
          }
        }),
      );
    } finally {
      source.disconnect();
      target.disconnect();
    }
  }

  /** `INFO errorstats` summed over the live nodes: error prefix (MOVED, ASK, TRYAGAIN...) -> count. */
  async errorStats(): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    for (const node of this.nodes.filter((n) => n.running)) {
      const client = admin(node.port);
      try {
        for (const [, kind, count] of ((await client.info('errorstats')) as string).matchAll(
          /errorstat_(\w+):count=(\d+)/g,
        )) {
          totals[kind] = (totals[kind] ?? 0) + Number(count);
        }
      } finally {
        client.disconnect();
      }
    }
    return totals;
  }

  private async everyLiveNodeOk(): Promise<boolean> {
    const live = this.nodes.filter((node) => node.running);
    const infos = await Promise.all(
      live.map(async (node) => {
        const client = admin(node.port);
        try {
          return (await client.cluster('INFO')) as string;
        } finally {
          client.disconnect();
        }
      }),
    );
    return infos.every((info) => info.includes('cluster_state:ok'));
  }

  private async withLiveNode<T>(run: (client: Redis) => Promise<T>): Promise<T> {
    const node = this.nodes.find((n) => n.running);
    if (!node) throw new Error('no live node');
    const client = admin(node.port);
    try {
      return await run(client);
    } finally {
      client.disconnect();
    }
  }

  /** Polls until every node knows every other. */
  private async untilKnown(admins: Redis[]): Promise<void> {
    await this.poll(admins, (infos) =>
      infos.every((info) => info.includes(`cluster_known_nodes:${admins.length}`)),
    );
  }

  /** Polls until every slot is served, every replica is in sync and every node says ok. */
  private async untilReady(admins: Redis[], masters: number, replicas: number): Promise<void> {
    await this.poll(admins, async (infos) => {
      if (
        !infos.every(
          (info) => info.includes('cluster_state:ok') && info.includes(`cluster_slots_ok:${SLOTS}`),
        )
      ) {
        return false;
      }
      const lines = parseNodes((await admins[0].cluster('NODES')) as string);
      if (lines.filter((l) => l.flags.includes('slave')).length !== masters * replicas)
        return false;
      const links = await Promise.all(
        admins.slice(masters).map((client) => client.info('replication')),
      );
      return links.every((info) => info.includes('master_link_status:up'));
    });
  }

  private async poll(
    admins: Redis[],
    done: (infos: string[]) => boolean | Promise<boolean>,
  ): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const infos = await Promise.all(
        admins.map((client) => client.cluster('INFO') as Promise<string>),
      );
      if (await done(infos)) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ready:\n${infos.join('\n')}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

function ownsSlot(line: NodeLine, slot: number): boolean {
  return line.slots.some((range) => {
    if (range.startsWith('[')) return false;
    const [from, to = from] = range.split('-').map(Number);
    return slot >= from && slot <= to;
  });
}
