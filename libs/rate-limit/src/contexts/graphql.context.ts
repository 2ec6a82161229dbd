import type { ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import type { ClientIpResolver } from '../guard/client-identity.js';
import { type HttpRequest, readClient } from '../guard/http-request.js';
import type { ContextAdapter, ContextCaller, DenialStatus } from './context-adapter.js';

/** The parts of a GraphQL context the adapter reads: Apollo's `req`/`res`, Mercurius' `reply`. */
interface GraphqlContext {
  req?: HttpRequest & { res?: NodeJS.EventEmitter };
  res?: NodeJS.EventEmitter;
  reply?: { request?: HttpRequest; raw?: NodeJS.EventEmitter };
}

/** `extensions.code` per status, in the spelling GraphQL servers use for their own errors. */
const CODES: Record<DenialStatus, string> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  429: 'RATE_LIMITED',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * GraphQL (Apollo, Mercurius): the caller is the HTTP request behind the operation, so a query
 * and a REST route of one client share an IP, API key and user. Denials are `GraphQLError`s with
 * `extensions.code` (`RATE_LIMITED` for a limit), `rule` and `retryAfter`.
 * @internal
 */
export const adapter: ContextAdapter = {
  type: 'graphql',
  read(ctx: ExecutionContext, ips: ClientIpResolver): ContextCaller {
    const gql = GqlExecutionContext.create(ctx).getContext<GraphqlContext | undefined>();
    const request = gql?.req ?? gql?.reply?.request;
    const route = `${ctx.getClass().name}.${ctx.getHandler().name}`;
    if (!request?.headers) return { principal: gql, route };
    return {
      client: readClient(request, ips),
      principal: request,
      route,
      closes: gql?.res ?? gql?.reply?.raw ?? gql?.req?.res,
    };
  },
  error(status, message, details) {
    return new GraphQLError(message, { extensions: { code: CODES[status], ...details } });
  },
};
