import { Cluster, type Redis } from 'ioredis';
import type { LoadedScript } from './lua-scripts.js';

const noop = () => undefined;

/**
 * Keeps every Redis node ready for a decision before one arrives: the scripts loaded
 * (`SCRIPT LOAD`) on each node as soon as its connection is ready, and on Redis Cluster every node
 * connection opened as soon as the cluster client is ready (and any node it learns of later, at
 * once), replicas included, so that a promoted replica already has a ready connection.
 *
 * Why the cluster connections: ioredis opens a node's connection lazily, on the first command
 * routed to it. With the client's offline queue off (so that a dead cluster costs a fast error),
 * every further command routed to that node while its connection is still opening is refused with
 * "Connection is closed."; ioredis retries it later on a random node (a `MOVED`), after the
 * breaker has already given up on it. The first burst on a cold cluster was decided by the
 * failure mode that way. Opening each connection at once, and waiting for the masters before
 * serving, leaves only connections that are ready (a dead node still fails fast).
 *
 * After a topology change (a node added, a replica promoted, slots moved: ioredis's `+node` and
 * `refresh` events) new connections are opened and any script a master lacks is loaded.
 * @internal
 */
export class RedisWarmup {
  /** Per connection, the last script load (settled: loaded or failed). */
  private readonly loads = new WeakMap<Redis, Promise<void>>();
  /** Listeners to remove on `dispose` (a caller's client outlives the module). */
  private readonly detachers = new Map<object, () => void>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly scripts: readonly LoadedScript[],
  ) {
    if (client instanceof Cluster) {
      this.listen(client, '+node', (node: Redis) => this.adopt(client, node));
      this.listen(client, 'refresh', () => this.refreshed(client));
      this.listen(client, 'ready', () => this.refreshed(client));
      for (const node of client.nodes('all')) this.adopt(client, node);
    } else {
      // Every (re)connection may be to another server: a restarted one, a promoted replica.
      this.listen(client, 'ready', () => this.load(client, false));
      if (client.status === 'ready') this.load(client, false);
    }
  }

  /**
   * Resolves `true` once the client is ready and, on a cluster, every master's connection is
   * ready, with the scripts loaded everywhere; `false` if that takes longer than `timeoutMs`.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return await this.settled(abort.signal);
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  /** Removes every listener this put on the client and its node connections. */
  dispose(): void {
    for (const detach of this.detachers.values()) detach();
    this.detachers.clear();
  }

  private async settled(signal: AbortSignal): Promise<boolean> {
    const client = this.client;
    if (!(await untilReady(client, signal))) return false;
    const targets = client instanceof Cluster ? client.nodes('master') : [client];
    const ready = await Promise.all(
      targets.map(async (node) => {
        if (!(await untilReady(node, signal))) return false;
        await this.loads.get(node);
        return true;
      }),
    );
    return ready.every(Boolean) && !signal.aborted && client.status === 'ready';
  }

  private adopt(cluster: Cluster, node: Redis): void {
    if (!this.detachers.has(node)) {
      const onReady = () => this.load(node, false);
      node.on('ready', onReady);
      const forget = () => {
        node.off('ready', onReady);
        this.detachers.delete(node);
      };
      node.once('end', forget);
      this.detachers.set(node, () => {
        node.off('end', forget);
        forget();
      });
      if (node.status === 'ready') this.load(node, false);
    }
    // Not while the cluster itself connects: its ready check goes to a random node, and a node
    // whose connection is opening would refuse it just the same. Its 'ready' opens the rest.
    if (node.status === 'wait' && cluster.status === 'ready') node.connect().catch(noop);
  }

  /** A new slot map: open what is new, and check that every master holds the scripts. */
  private refreshed(cluster: Cluster): void {
    for (const node of cluster.nodes('all')) this.adopt(cluster, node);
    for (const node of cluster.nodes('master')) {
      if (node.status === 'ready') this.load(node, true);
    }
  }

  /** `SCRIPT LOAD` of every script (`onlyMissing`: of those `SCRIPT EXISTS` does not find). */
  private load(node: Redis, onlyMissing: boolean): void {
    const run = async () => {
      let scripts = this.scripts;
      if (onlyMissing) {
        const present = (await node.script('EXISTS', ...scripts.map((s) => s.sha1))) as number[];
        scripts = scripts.filter((_, i) => present[i] !== 1);
      }
      await Promise.all(scripts.map((script) => node.script('LOAD', script.lua)));
    };
    // A failed load costs nothing but a NOSCRIPT round trip later: ioredis then sends the script.
    this.loads.set(node, run().then(noop, noop));
  }

  // ioredis types its emitters' listeners as taking anything.
  private listen(
    emitter: Redis | Cluster,
    event: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- ioredis's own listener type
    listener: (...args: any[]) => void,
  ): void {
    emitter.on(event, listener);
    this.detachers.set(listener, () => emitter.off(event, listener));
  }
}

/** Resolves `true` when the connection is ready, `false` if it ends or `signal` aborts first. */
function untilReady(connection: Redis | Cluster, signal: AbortSignal): Promise<boolean> {
  if (connection.status === 'ready') return Promise.resolve(true);
  if (connection.status === 'end' || signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      connection.off('ready', onReady);
      connection.off('end', onEnd);
      signal.removeEventListener('abort', onEnd);
      resolve(ok);
    };
    const onReady = done(true);
    const onEnd = done(false);
    connection.once('ready', onReady);
    connection.once('end', onEnd);
    signal.addEventListener('abort', onEnd, { once: true });
  });
}
