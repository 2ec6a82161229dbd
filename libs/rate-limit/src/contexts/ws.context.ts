import type { ExecutionContext } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { ClientIpResolver } from '../guard/client-identity.js';
import { decodeApiKey } from '../guard/http-request.js';
import type { ContextAdapter, ContextCaller } from './context-adapter.js';

type Headers = Record<string, string | string[] | undefined>;

/** The parts of a socket.io `Socket` and a `ws` `WebSocket` the adapter reads. */
interface WsClient {
  handshake?: { address?: string; headers?: Headers };
  _socket?: { remoteAddress?: string };
  /** The upgrade request, when the gateway keeps it there (`ws` does not). */
  request?: { headers?: Headers };
}

/**
 * WebSockets (socket.io, ws): the caller is the connection's address, socket.io's
 * `handshake.address` or the `ws` socket's `remoteAddress`, with `X-Forwarded-For` and
 * `X-API-Key` from the handshake headers where the adapter keeps them. Every message spends the
 * budget. Denials are `WsException`s carrying `{status, message, rule, retryAfter}`, which Nest
 * sends to the client as its `exception` event.
 * @internal
 */
export const adapter: ContextAdapter = {
  type: 'ws',
  read(ctx: ExecutionContext, ips: ClientIpResolver): ContextCaller {
    const socket = ctx.switchToWs().getClient<WsClient>();
    const address = socket.handshake ? socket.handshake.address : socket._socket?.remoteAddress;
    const headers = socket.handshake?.headers ?? socket.request?.headers ?? {};
    const route = `${ctx.getClass().name}.${ctx.getHandler().name}`;
    if (!address) return { principal: socket, route };
    return {
      client: {
        ip: ips.resolve(address, headers['x-forwarded-for']),
        apiKey: decodeApiKey(headers['x-api-key']),
      },
      principal: socket,
      route,
    };
  },
  error(status, message, details) {
    return new WsException({ status, message, ...details });
  },
};
