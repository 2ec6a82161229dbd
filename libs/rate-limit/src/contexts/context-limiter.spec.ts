import type { Logger } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/internal';
import { RpcException } from '@nestjs/microservices';
import { WsException } from '@nestjs/websockets';
import type { RateLimiter, RuleRequest, Verdict } from '../core/rate-limiter.service.js';
import { RateLimitConfigError } from '../errors/index.js';
import { ClientIpResolver } from '../guard/client-identity.js';
import type { KeyBy, RateLimitRule } from '../interfaces/index.js';
import { resolveOptions } from '../rate-limit.options.js';
import { ContextLimiter } from './context-limiter.js';

const rule = (key: KeyBy): RateLimitRule => ({
  name: 'r',
  algorithm: 'fixed-window',
  limit: 1,
  windowMs: 60_000,
  key,
  cost: 1,
  mode: 'enforce',
});

class Handlers {
  handle() {}
}

/** An execution context of `type` with these handler arguments. */
function context(type: string, args: unknown[]) {
  const ctx = new ExecutionContextHost(args, Handlers, Handlers.prototype.handle);
  ctx.setType(type);
  return ctx;
}

/** Records what reaches the core and admits everything. */
function recordingLimiter() {
  const calls: RuleRequest[][] = [];
  const limiter = {
    decide: async (requests: readonly RuleRequest[]): Promise<Verdict> => {
      calls.push([...requests]);
      return { kind: 'exempt' };
    },
  } as unknown as RateLimiter;
  return { limiter, calls };
}

function contextLimiter(limiter: RateLimiter, options = resolveOptions()) {
  const quiet = { error: () => undefined, warn: () => undefined } as unknown as Logger;
  return new ContextLimiter(limiter, options, new ClientIpResolver(false), quiet);
}

describe('ContextLimiter', () => {
  it('refuses a limited handler in a context it cannot read, without admitting it', async () => {
    const { limiter, calls } = recordingLimiter();
    await expect(
      contextLimiter(limiter).limit(context('kafka-streams', []), [rule('ip')]),
    ).rejects.toThrow(
      new RateLimitConfigError(
        'Handlers.handle has rate-limit rules but runs in a "kafka-streams" context, which the ' +
          'rate-limit guard cannot read; limit it with RateLimiter.consume instead',
      ),
    );
    expect(calls).toEqual([]);
  });

  it('on a transport without a peer address, refuses a rule that needs the IP and decides one keyed by pattern', async () => {
    const { limiter, calls } = recordingLimiter();
    const brokered = { getPattern: () => 'orders.created' };
    const ctx = context('rpc', [{ id: 1 }, brokered]);
    const denial = await contextLimiter(limiter)
      .limit(ctx, [rule('ip')])
      .catch((e: unknown) => e);
    expect(denial).toBeInstanceOf(RpcException);
    expect((denial as RpcException).getError()).toEqual({
      status: 500,
      message:
        `Rate-limit rule "r" needs the client IP and this rpc call has none; ` +
        `key the rule by a function or by 'global'`,
    });
    expect(calls).toEqual([]);
    await expect(contextLimiter(limiter).limit(ctx, [rule('route')])).resolves.toBe(true);
    expect(calls.map((c) => c[0].identity)).toEqual(['route=orders.created']);
  });

  it('keys a WebSocket message by the principal on the socket; `fallback: deny` refuses a socket without one', async () => {
    const { limiter, calls } = recordingLimiter();
    const socket = { handshake: { address: '::ffff:10.0.0.9', headers: {} }, user: { sub: 'u-7' } };
    await contextLimiter(limiter).limit(context('ws', [socket, {}]), [rule(['user', 'ip'])]);
    expect(calls.map((c) => c[0].identity)).toEqual(['user=u-7|ip=10.0.0.9']);

    const strict = contextLimiter(limiter, resolveOptions({ user: { fallback: 'deny' } }));
    const anonymous = { handshake: { address: '10.0.0.9', headers: {} } };
    const denial = await strict
      .limit(context('ws', [anonymous, {}]), [rule('user')])
      .catch((e: unknown) => e);
    expect(denial).toBeInstanceOf(WsException);
    expect((denial as WsException).getError()).toEqual({
      status: 401,
      message: 'Rate-limit rule "r" is keyed by user and this request has no authenticated user',
    });
    expect(calls).toHaveLength(1);
  });
});
