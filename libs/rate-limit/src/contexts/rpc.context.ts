import type { ExecutionContext } from '@nestjs/common';
import { RpcException, TcpContext } from '@nestjs/microservices';
import { normalizeIp } from '../core/identity/index.js';
import { decodeApiKey } from '../guard/http-request.js';
import type { ContextAdapter, ContextCaller } from './context-adapter.js';

/** What transports' contexts may offer besides TCP's socket. */
interface RpcContext {
  getPattern?: () => unknown;
  getMetadata?: () => Record<string, string> | undefined;
}

/**
 * Microservices: `ip` is the transport's peer, the address of the calling service on TCP (no
 * `X-Forwarded-For`: there are no proxies between services); brokered transports (Redis, NATS,
 * Kafka, ...) have no peer, and a rule needing an IP is refused there. `api-key` reads the
 * packet's `x-api-key` metadata; `route` is the message pattern. Denials are `RpcException`s
 * carrying `{status, message, rule, retryAfter}`, which the client receives as its error.
 * @internal
 */
export const adapter: ContextAdapter = {
  type: 'rpc',
  read(ctx: ExecutionContext): ContextCaller {
    const rpc = ctx.switchToRpc();
    const context = rpc.getContext<RpcContext | undefined>();
    const pattern = context?.getPattern?.();
    const route =
      typeof pattern === 'string' ? pattern : `${ctx.getClass().name}.${ctx.getHandler().name}`;
    const address =
      context instanceof TcpContext ? context.getSocketRef().netSocket.remoteAddress : undefined;
    if (!address) return { principal: rpc.getData(), route };
    return {
      client: {
        ip: normalizeIp(address),
        apiKey: decodeApiKey(context?.getMetadata?.()?.['x-api-key']),
      },
      principal: rpc.getData(),
      route,
    };
  },
  error(status, message, details) {
    return new RpcException({ status, message, ...details });
  },
};
