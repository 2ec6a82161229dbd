import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';

const SLOTS = 16_384;

/**
 * A real Redis Cluster of `masters` redis-server processes on free ports, no replicas, each node
 * with its own temporary folder for `nodes.conf`. Slots are split evenly in order.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    private readonly dirs: string[],
  ) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const dirs = await Promise.all(
      Array.from({ length: masters }, () => mkdtemp(join(tmpdir(), 'rl-cluster-'))),
    );
    const nodes = await Promise.all(
      dirs.map((dir) =>
        RedisServer.start(['--cluster-enabled', 'yes', '--dir', dir, '--cluster-node-timeout', '5000']),
      ),
    );
    const cluster = new RedisCluster(nodes, dirs);
    const admins = nodes.map((node) => new Redis(node.port, '127.0.0.1'));
    try {
      await Promise.all(
        admins.map(async (admin, i) => {
          // Distinct epochs spare the nodes a round of conflict resolution.
          await admin.cluster('SET-CONFIG-EPOCH', i + 1);
          const from = Math.floor((SLOTS * i) / masters);
          const to = Math.floor((SLOTS * (i + 1)) / masters) - 1;
          await admin.call('CLUSTER', 'ADDSLOTSRANGE', from, to);
        }),
      );
      for (const node of nodes.slice(1)) await admins[0].cluster('MEET', '127.0.0.1', node.port);
      await cluster.untilReady(admins);
    } catch (error) {
      await cluster.stop();
      throw error;
    } finally {
      admins.forEach((admin) => admin.disconnect());
    }
    return cluster;
  }

  /** Start nodes for an ioredis `Cluster`. */
  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  /** Polls until every node knows every other and serves every slot. */
  private async untilReady(admins: Redis[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const infos = await Promise.all(admins.map((admin) => admin.cluster('INFO') as Promise<string>));
      const ready = infos.every(
        (info) =>
          info.includes('cluster_state:ok') &&
          info.includes(`cluster_known_nodes:${admins.length}`) &&
          info.includes(`cluster_slots_ok:${SLOTS}`),
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ready:\n${infos.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
