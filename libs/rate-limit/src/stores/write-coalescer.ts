import type { Cluster, Redis } from 'ioredis';

interface Corkable {
  cork(): void;
  uncork(): void;
  destroyed?: boolean;
}

/**
 * Holds the client's sockets corked from the first command of an event-loop turn until the
 * turn's I/O callbacks have run (`setImmediate`), so the commands of every request read in that
 * turn leave in one write instead of one system call each. On loopback a write costs a large
 * part of a request, and a busy app reads many requests per turn.
 *
 * Unlike ioredis's auto-pipelining, every command stays its own entry in ioredis's queue, sent
 * and answered on its own: a connection lost in the middle leaves no half-answered pipeline
 * behind. The sockets are the ones in use when the turn's first command is sent; a socket
 * opened later in the turn is not corked.
 * @internal
 */
export class WriteCoalescer {
  private held: Corkable[] = [];

  constructor(private readonly client: Redis | Cluster) {}

  /** Call right before sending a command. */
  hold(): void {
    if (this.held.length > 0) return;
    const sockets = this.sockets();
    for (const socket of sockets) socket.cork();
    if (sockets.length === 0) return;
    this.held = sockets;
    setImmediate(this.release);
  }

  private readonly release = (): void => {
    const sockets = this.held;
    this.held = [];
    for (const socket of sockets) if (!socket.destroyed) socket.uncork();
  };

  /** A cluster's command may go to any node: every node's socket is held. */
  private sockets(): Corkable[] {
    const clients = 'nodes' in this.client ? this.client.nodes() : [this.client];
    const sockets: Corkable[] = [];
    for (const client of clients) {
      const stream = client.stream as Partial<Corkable> | undefined;
      if (client.status === 'ready' && typeof stream?.cork === 'function')
        sockets.push(stream as Corkable);
    }
    return sockets;
  }
}
