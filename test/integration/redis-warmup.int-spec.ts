import { type Cluster, Redis } from 'ioredis';
import {
  createRedisClient,
  type RedisClientHolder,
} from '../../libs/rate-limit/src/rate-limit.providers.js';
import { resolveOptions } from '../../libs/rate-limit/src/rate-limit.options.js';
import { findLuaDir, loadLuaScripts } from '../../libs/rate-limit/src/stores/lua-scripts.js';
import { waitFor } from '../support/load.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { RedisServer } from '../support/redis-server.js';

/** Scripts are on every node before the first decision, and again after a node comes back empty. */
const shas = loadLuaScripts(findLuaDir()).map((s) => s.sha1);

async function scriptsOn(port: number): Promise<number[]> {
  const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    return (await admin.script('EXISTS', ...shas)) as number[];
  } finally {
    admin.disconnect();
  }
}

describe('one Redis server', () => {
  let server: RedisServer;
  let holder: RedisClientHolder;

  beforeAll(async () => {
    server = await RedisServer.start();
    holder = createRedisClient(resolveOptions({ redis: { url: server.url } }));
  });
  afterAll(async () => {
    await holder?.close();
    await server?.stop();
  });

  it('is ready with every script loaded, and loads them again on a restarted server with no decision made', async () => {
    expect(await holder.ready(2_000)).toBe(true);
    expect(await scriptsOn(server.port)).toEqual(shas.map(() => 1));
    await server.restart();
    await waitFor(async () => (await scriptsOn(server.port)).every((e) => e === 1), 5_000);
  });
});

describe('a 3-master, 3-replica cluster', () => {
  let cluster: RedisCluster;
  let holder: RedisClientHolder;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { replicas: 1 });
    holder = createRedisClient(
      resolveOptions({ redis: { cluster: { nodes: cluster.startupNodes.slice(0, 1) } } }),
    );
  });
  afterAll(async () => {
    await holder?.close();
    await cluster?.stop();
  });

  it('is ready only with every master connection ready, the scripts on every node, replicas included', async () => {
    expect(await holder.ready(5_000)).toBe(true);
    const client = holder.client as Cluster;
    expect(client.nodes('master').map((node) => node.status)).toEqual(['ready', 'ready', 'ready']);
    const loaded = async (port: number) => (await scriptsOn(port)).every((e) => e === 1);
    for (const master of client.nodes('master'))
      expect(await loaded(master.options.port!)).toBe(true);
    // Replicas are opened too (a promoted one is then ready at once), without boot waiting for them.
    // A replica that has just synced may be missing from CLUSTER SLOTS until the nodes gossip its
    // offset: each slot-map refresh (ioredis's own every 5 s, or these) adopts what it lists.
    await waitFor(
      async () => {
        client.refreshSlotsCache();
        return (await Promise.all(cluster.nodes.map((node) => loaded(node.port)))).every(Boolean);
      },
      12_000,
      250,
    );
    // Their connections finish opening on their own, a moment after the scripts are seen there. A
    // replica the slot map dropped for a moment comes back as a new connection at the next
    // refresh, which the warm-up opens at once: the map is refreshed meanwhile, as above.
    await waitFor(
      () => {
        client.refreshSlotsCache();
        return client.nodes('slave').filter((node) => node.status === 'ready').length === 3;
      },
      10_000,
      250,
    );
  }, 35_000);

  it('loads the scripts on a master that lost them, at the next slot-map refresh', async () => {
    const [first] = cluster.nodes;
    const admin = new Redis(first.port, '127.0.0.1');
    await admin.script('FLUSH');
    admin.disconnect();
    (holder.client as Cluster).refreshSlotsCache();
    await waitFor(async () => (await scriptsOn(first.port)).every((e) => e === 1), 2_000);
  });
});
