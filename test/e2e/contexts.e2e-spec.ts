import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import {
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type INestMicroservice,
  Injectable,
  Module,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { GqlExecutionContext, GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import {
  ClientProxyFactory,
  MessagePattern,
  type ClientProxy,
  Transport,
} from '@nestjs/microservices';
import { Controller } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Redis } from 'ioredis';
import { firstValueFrom } from 'rxjs';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { RateLimit, RateLimitGuard, RateLimitModule } from '@app/rate-limit';
import { uniquePrefix } from '../support/demo-app.js';
import { freePort, RedisServer } from '../support/redis-server.js';

const RULE = { algorithm: 'fixed-window', limit: 2, window: '1m', key: 'ip' } as const;

@Resolver()
class SearchResolver {
  @RateLimit({ ...RULE, name: 'gql-search' })
  @Query(() => String)
  search(): string {
    return 'found';
  }

  @Query(() => String)
  free(): string {
    return 'free';
  }

  @RateLimit({ ...RULE, name: 'gql-me', key: 'user' })
  @Query(() => String)
  me(): string {
    return 'me';
  }
}

/** GraphQL authentication: `Authorization: Bearer <name>` becomes `req.user`; other contexts pass. */
@Injectable()
class GqlBearerGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType<string>() !== 'graphql') return true;
    const { req } = GqlExecutionContext.create(ctx).getContext<{
      req: { headers: Record<string, string | undefined>; user?: { id: string } };
    }>();
    const name = /^Bearer (\w+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (name) req.user = { id: name };
    return true;
  }
}

@WebSocketGateway()
class ChatGateway {
  @RateLimit({ ...RULE, name: 'ws-say' })
  @SubscribeMessage('say')
  say(): { event: string; data: string } {
    return { event: 'said', data: 'ok' };
  }
}

@Controller()
class PricesController {
  @RateLimit({ ...RULE, name: 'rpc-price', key: ['ip', 'route'] })
  @MessagePattern('price')
  price(): number {
    return 42;
  }
}

const limiterModule = (url: string, name: string) =>
  RateLimitModule.forRoot({ redis: { url }, keyPrefix: uniquePrefix(name) });
const guard = { provide: APP_GUARD, useClass: RateLimitGuard };
const httpUrl = (app: INestApplication) =>
  `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** The state keys of one rule in Redis, each with a TTL. */
async function stateKeys(rule: string): Promise<string[]> {
  const keys = await redis.keys(`*${rule}*`);
  for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
  return keys;
}

describe.each([
  ['Apollo on Express', 'apollo'],
  ['Mercurius on Fastify', 'mercurius'],
] as const)('GraphQL: %s', (_label, driver) => {
  let app: INestApplication;
  const query = async (q: string, user?: string) => {
    const response = await fetch(`${httpUrl(app)}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(user ? { authorization: `Bearer ${user}` } : {}),
      },
      body: JSON.stringify({ query: q }),
    });
    return (await response.json()) as {
      data?: Record<string, string> | null;
      errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
    };
  };

  beforeAll(async () => {
    const graphql =
      driver === 'apollo'
        ? GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true })
        : GraphQLModule.forRoot<MercuriusDriverConfig>({
            driver: MercuriusDriver,
            autoSchemaFile: true,
          });
    @Module({
      imports: [limiterModule(server.url, `gql-${driver}`), graphql],
      // Authentication first, then the limiter: it sees the user.
      providers: [SearchResolver, { provide: APP_GUARD, useClass: GqlBearerGuard }, guard],
    })
    class GraphqlApp {}
    app = await NestFactory.create(
      GraphqlApp,
      driver === 'apollo' ? new ExpressAdapter() : new FastifyAdapter(),
      { logger: false },
    );
    await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await redis.del(...(await redis.keys('*gql-*')));
  });

  it('limits per user after authentication: two users behind one IP, and anonymous callers by IP', async () => {
    const codes = async (user?: string) => {
      const out: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const { data, errors } = await query('{ me }', user);
        out.push(errors ? errors[0].extensions?.code : data?.me);
      }
      return out;
    };
    expect(await codes('alice')).toEqual(['me', 'me', 'RATE_LIMITED']);
    expect(await codes('bob')).toEqual(['me', 'me', 'RATE_LIMITED']);
    expect(await codes()).toEqual(['me', 'me', 'RATE_LIMITED']);
    const identities = (await stateKeys('gql-me')).map((k) => k.slice(k.indexOf('gql-me')));
    expect(identities.sort()).toEqual([
      expect.stringContaining('ip=127.0.0.1'),
      expect.stringContaining('user=alice'),
      expect.stringContaining('user=bob'),
    ]);
  });

  it('admits the limit, then answers a GraphQL error with code, rule and Retry-After seconds', async () => {
    expect(await query('{ search }')).toEqual({ data: { search: 'found' } });
    expect(await query('{ search }')).toEqual({ data: { search: 'found' } });
    const denied = await query('{ search }');
    expect(denied.data ?? null).toBeNull();
    expect(denied.errors).toHaveLength(1);
    const [error] = denied.errors!;
    expect(error.message).toBe('Rate limit exceeded for rule "gql-search"');
    expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', rule: 'gql-search' });
    expect(error.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
    expect(error.extensions!.retryAfter).toBeLessThanOrEqual(60);
    // A resolver without rules is not limited; the budget lives in Redis, keyed by the client IP.
    expect(await query('{ free }')).toEqual({ data: { free: 'free' } });
    expect(await stateKeys('gql-search')).toEqual([expect.stringContaining('127.0.0.1')]);
  });
});

describe.each(['socket.io', 'ws'] as const)('WebSockets: %s', (kind) => {
  let app: INestApplication;

  beforeAll(async () => {
    @Module({
      imports: [limiterModule(server.url, `ws-${kind}`)],
      providers: [ChatGateway, guard],
    })
    class WsApp {}
    app = await NestFactory.create(WsApp, new ExpressAdapter(), { logger: false });
    if (kind === 'ws') app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await redis.del(...(await redis.keys('*ws-say*')));
  });

  /** Sends `say` three times, each after the previous answer, and collects the answers in order. */
  async function sayThrice(): Promise<unknown[]> {
    const received: unknown[] = [];
    if (kind === 'socket.io') {
      const socket: Socket = io(httpUrl(app), { transports: ['websocket'] });
      await new Promise<void>((resolve) => {
        const answered = (answer: unknown) => {
          received.push(answer);
          if (received.length === 3) resolve();
          else socket.emit('say', {});
        };
        socket.on('said', (data: unknown) => answered({ said: data }));
        socket.on('exception', (data: unknown) => answered({ exception: data }));
        socket.on('connect', () => socket.emit('say', {}));
      });
      socket.disconnect();
      return received;
    }
    const socket = new WebSocket(httpUrl(app).replace('http', 'ws'));
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', (raw) => {
        const { event, data } = JSON.parse(String(raw)) as { event: string; data: unknown };
        received.push({ [event]: data });
        if (received.length === 3) resolve();
        else socket.send(JSON.stringify({ event: 'say', data: {} }));
      });
      socket.on('open', () => socket.send(JSON.stringify({ event: 'say', data: {} })));
    });
    socket.close();
    return received;
  }

  it('admits the limit, then sends the exception event with status 429, rule and retryAfter', async () => {
    const received = await sayThrice();
    expect(received.slice(0, 2)).toEqual([{ said: 'ok' }, { said: 'ok' }]);
    expect(received[2]).toEqual({
      exception: {
        status: 429,
        message: 'Rate limit exceeded for rule "ws-say"',
        rule: 'ws-say',
        retryAfter: expect.any(Number),
      },
    });
    expect(await stateKeys('ws-say')).toEqual([expect.stringContaining('127.0.0.1')]);
  });
});

describe('microservices: TCP', () => {
  let service: INestMicroservice;
  let client: ClientProxy;

  beforeAll(async () => {
    const port = await freePort();
    @Module({
      imports: [limiterModule(server.url, 'rpc')],
      controllers: [PricesController],
      providers: [guard],
    })
    class RpcApp {}
    const options = { host: '127.0.0.1', port };
    service = await NestFactory.createMicroservice(RpcApp, {
      transport: Transport.TCP,
      options,
      logger: false,
    });
    await service.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await service?.close();
  });

  it('admits the limit, then rejects the call with the RpcException payload', async () => {
    expect(await firstValueFrom(client.send('price', {}))).toBe(42);
    expect(await firstValueFrom(client.send('price', {}))).toBe(42);
    await expect(firstValueFrom(client.send('price', {}))).rejects.toEqual({
      status: 429,
      message: 'Rate limit exceeded for rule "rpc-price"',
      rule: 'rpc-price',
      retryAfter: expect.any(Number),
    });
    // Keyed by the calling service's address and the message pattern.
    expect(await stateKeys('rpc-price')).toEqual([
      expect.stringMatching(/ip=127\.0\.0\.1\|route=price/),
    ]);
  });
});
