import type { ExecutionContext } from '@nestjs/common';
import type { ClientIpResolver } from '../guard/client-identity.js';
import type { ClientInfo } from '../interfaces/index.js';

/** The contexts besides HTTP that the guard limits, as `ExecutionContext.getType()` names them. @internal */
export type ContextType = 'graphql' | 'ws' | 'rpc';

/** Statuses a context adapter translates into its own kind of error. @internal */
export type DenialStatus = 401 | 403 | 429 | 500 | 503;

/** What a context tells about its caller. @internal */
export interface ContextCaller {
  /** Client address (and API key); `undefined` when the transport has no address of the caller. */
  client?: ClientInfo;
  /** Where the `user` key source looks for the principal (see the module's `user` option). */
  principal: unknown;
  /** What the `route` key source keys by. */
  route: string;
  /** A response whose `close` ends the request's concurrency leases; without one they end with the window. */
  closes?: NodeJS.EventEmitter;
}

/**
 * One context of NestJS translated for the core: who the caller is, and a denial in the
 * context's own terms. One file per context, each importing its own optional peer.
 * @internal
 */
export interface ContextAdapter {
  readonly type: ContextType;
  read(ctx: ExecutionContext, ips: ClientIpResolver): ContextCaller;
  error(
    status: DenialStatus,
    message: string,
    details?: { rule: string; retryAfter: number },
  ): Error;
}

// Each adapter imports its context's package, an optional peer: it is loaded on the first call
// of that context, which can only happen when the package is installed.
const loaders: Record<ContextType, () => Promise<{ adapter: ContextAdapter }>> = {
  graphql: () => import('./graphql.context.js'),
  ws: () => import('./ws.context.js'),
  rpc: () => import('./rpc.context.js'),
};
const loaded = new Map<string, Promise<ContextAdapter>>();

/** Whether the guard has an adapter for a context type. @internal */
export function isLimitedContext(type: string): type is ContextType {
  return Object.hasOwn(loaders, type);
}

/** The adapter of a context type, loaded once. @internal */
export function contextAdapter(type: ContextType): Promise<ContextAdapter> {
  let adapter = loaded.get(type);
  if (!adapter) {
    adapter = loaders[type]().then((module) => module.adapter);
    loaded.set(type, adapter);
  }
  return adapter;
}
