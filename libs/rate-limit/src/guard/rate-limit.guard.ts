import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { costProblem, retryAfterSeconds } from '../core/decision.js';
import { ContextLimiter } from '../contexts/context-limiter.js';
import { callerIdentity, keyedByUser } from '../core/identity/index.js';
import {
  type Charge,
  type Lease,
  RateLimiter,
  type RuleRequest,
} from '../core/rate-limiter.service.js';
import { shapingDelay } from '../core/rule-policies.js';
import { StoreUnavailableError } from '../errors/index.js';
import type { ClientInfo, Decision, RateLimitRule } from '../interfaces/index.js';
import { RESOLVED_OPTIONS, SKIP_RATE_LIMIT } from '../rate-limit.constants.js';
import {
  CLIENT_BLOCKED,
  CLIENT_GONE_WHILE_DELAYED,
  COST_ABOVE_LIMIT,
  COST_INVALID_DENIED,
  INVALID_COST,
  RATE_LIMITED,
  REFUND_FAILED,
  STORE_UNAVAILABLE,
  USER_REQUIRED,
} from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { ClientIpResolver } from './client-identity.js';
import { type HttpRequest, readClient, setHeaders } from './http-request.js';
import { rateLimitHeaders } from './rate-limit-headers.js';
import { RateLimitException } from './rate-limit.exception.js';
import { DELAY_HEADER, holdForSlot, refundUncountedOnFinish } from './rule-policies.hook.js';

/** nginx's status for a request whose client closed the connection first. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * Limits HTTP handlers by their `@RateLimit` rules (and the module's default rules). It only
 * adapts HTTP to the core: it reads the request, evaluates the rules' key, tier and cost
 * functions, asks `RateLimiter` for one decision covering every rule, sets the headers and
 * throws the 429. Register with `APP_GUARD` or `@UseGuards`. Subclass and override the
 * protected hooks to change how callers are identified or denied; dependencies are injected by
 * property, so a subclass keeps whatever constructor it has.
 * @publicApi
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  protected readonly logger = new Logger('RateLimit');
  @Inject(Reflector) protected readonly reflector!: Reflector;
  @Inject(RuleRegistry) protected readonly registry!: RuleRegistry;
  @Inject(RateLimiter) protected readonly limiter!: RateLimiter;
  @Inject(HttpAdapterHost) protected readonly adapterHost!: HttpAdapterHost;
  @Inject(RESOLVED_OPTIONS) protected readonly options!: ResolvedOptions;
  private resolver?: ClientIpResolver;
  private contexts?: ContextLimiter;
  /** What the route's metadata says, read once per handler (and class: a handler can be inherited). */
  private readonly routes = new WeakMap<Function, RouteFacts>();

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const handler = ctx.getHandler();
    const route = this.routeFacts(handler, ctx.getClass());
    if (route.skip) return true;
    const rules = this.registry.rulesInForce(handler);
    if (rules.length === 0) return true;
    if (ctx.getType() !== 'http') {
      this.resolver ??= new ClientIpResolver(this.options.trustProxy);
      this.contexts ??= new ContextLimiter(this.limiter, this.options, this.resolver, this.logger);
      return this.contexts.limit(ctx, rules);
    }

    const http = ctx.switchToHttp();
    const request = http.getRequest<HttpRequest>();
    const response = http.getResponse<object>();
    const client = this.getClient(request);
    const built = this.hooksOverridden()
      ? this.requestsThroughHooks(rules, ctx, client, request)
      : this.requestsOf(rules, ctx, client, request, route.name);
    const requests = isPromise(built) ? await built : built;

    let verdict;
    try {
      verdict = await this.limiter.decide(requests, client);
    } catch (error) {
      return this.onStoreError(error, response, rules);
    }
    if (verdict.kind === 'listed') {
      if (verdict.hit.list === 'block') throw new ForbiddenException(CLIENT_BLOCKED);
      return true;
    }
    if (verdict.kind === 'exempt') return true;
    const { decision, now, leases } = verdict;
    this.setHeaders(response, rateLimitHeaders(decision, now, this.options.headers));
    if (!decision.allowed) return this.throwThrottlingException(decision);
    this.releaseLeasesOnClose(response, leases);
    const delayMs = shapingDelay(decision);
    if (delayMs > 0) {
      this.setHeaders(response, { [DELAY_HEADER]: String(delayMs) });
      if (!(await holdForSlot(request, response, delayMs))) {
        this.refund(verdict.charged, now);
        throw new HttpException(CLIENT_GONE_WHILE_DELAYED, CLIENT_CLOSED_REQUEST);
      }
    }
    refundUncountedOnFinish(response, verdict.charged, (uncounted) => this.refund(uncounted, now));
    return true;
  }

  /** Who the caller is: client IP (per `trustProxy`) and API key (decoded as UTF-8). */
  protected getClient(request: HttpRequest): ClientInfo {
    this.resolver ??= new ClientIpResolver(this.options.trustProxy);
    return readClient(request, this.resolver);
  }

  /** The identity whose budget the request spends under `rule`. */
  protected async getTracker(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
    request: HttpRequest,
  ): Promise<string> {
    if (typeof rule.key === 'function') return checkedKey(rule, await rule.key(ctx, client));
    return this.builtInKey(rule, ctx, client, request, routeName(ctx.getHandler(), ctx.getClass()));
  }

  /**
   * Units this request costs under `rule`. A cost function answering anything but a whole
   * number from 0 is a bug of that route: the request is denied (429, the rule's whole window
   * as `Retry-After`), logged, and nothing is charged.
   */
  protected async getCost(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
  ): Promise<number> {
    const cost = typeof rule.cost === 'function' ? await rule.cost(ctx, client) : rule.cost;
    return this.checkedCost(rule, ctx, cost);
  }

  /** Raises the 429 (`RateLimitException`); headers are already set. */
  protected throwThrottlingException(decision: Decision): never {
    const { binding } = decision;
    const message =
      binding.retryAfterMs < 0
        ? COST_ABOVE_LIMIT(binding.rule, binding.cost, binding.limit)
        : RATE_LIMITED(binding.rule);
    throw withoutStack(() => new RateLimitException(binding.rule, decision.retryAfter, message));
  }

  /** The store could not decide (`closed` failure mode): 503. Anything else is a limiter bug: admit, loudly. */
  protected onStoreError(error: unknown, response: object, rules: readonly RateLimitRule[]): true {
    if (error instanceof StoreUnavailableError) {
      const window = Math.max(...rules.map((r) => r.windowMs));
      this.setHeaders(response, { 'Retry-After': String(retryAfterSeconds(1000, window)) });
      throw new ServiceUnavailableException(STORE_UNAVAILABLE);
    }
    this.logger.error(`Rate limiting skipped after an unexpected store error: ${String(error)}`);
    return true;
  }

  /** All headers in one call where the adapter allows it. */
  protected setHeaders(response: object, headers: Record<string, string>): void {
    const adapter = this.adapterHost.httpAdapter;
    setHeaders(response, headers, (res, name, value) => adapter.setHeader(res, name, value));
  }

  /** A refund that fails leaves the charge in place: the caller pays for a request that did not count. */
  private refund(charged: Charge[], chargedAt: number): void {
    this.limiter.refund(charged, chargedAt).catch((error: unknown) => {
      this.logger.warn(REFUND_FAILED(error));
    });
  }

  /**
   * The rules' key, tier and cost, awaited only where a function answered a promise: rules whose
   * values are static or computed synchronously reach the store with no wait before its call.
   * Same order of calls and same errors as `requestsThroughHooks`.
   */
  private requestsOf(
    rules: readonly RateLimitRule[],
    ctx: ExecutionContext,
    client: ClientInfo,
    request: HttpRequest,
    route: string,
  ): RuleRequest[] | Promise<RuleRequest[]> {
    const requests: RuleRequest[] = [];
    for (let i = 0; i < rules.length; i++) {
      const one = this.ruleRequest(rules[i], ctx, client, request, route);
      if (isPromise(one))
        return this.restOfRequests(one, requests, rules, i, ctx, client, request, route);
      requests.push(one);
    }
    return requests;
  }

  private async restOfRequests(
    pending: Promise<RuleRequest>,
    requests: RuleRequest[],
    rules: readonly RateLimitRule[],
    index: number,
    ctx: ExecutionContext,
    client: ClientInfo,
    request: HttpRequest,
    route: string,
  ): Promise<RuleRequest[]> {
    requests.push(await pending);
    for (let i = index + 1; i < rules.length; i++) {
      requests.push(await this.ruleRequest(rules[i], ctx, client, request, route));
    }
    return requests;
  }

  private ruleRequest(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
    request: HttpRequest,
    route: string,
  ): RuleRequest | Promise<RuleRequest> {
    if (typeof rule.key === 'function') {
      const key = rule.key(ctx, client);
      if (isPromise(key)) return this.ruleRequestLater(rule, ctx, client, key);
      return this.withTier(rule, ctx, client, checkedKey(rule, key));
    }
    return this.withTier(rule, ctx, client, this.builtInKey(rule, ctx, client, request, route));
  }

  private withTier(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
    identity: string,
  ): RuleRequest | Promise<RuleRequest> {
    const tier = rule.tiers && rule.tier ? rule.tier(ctx, client) : undefined;
    if (isPromise(tier)) return this.ruleRequestLater(rule, ctx, client, identity, tier);
    const cls = rule.class ? rule.class(ctx, client) : undefined;
    if (isPromise(cls)) return this.ruleRequestLater(rule, ctx, client, identity, tier, cls);
    const cost = typeof rule.cost === 'function' ? rule.cost(ctx, client) : rule.cost;
    if (isPromise(cost)) {
      return cost.then((c) => ({
        rule,
        identity,
        tier,
        cls,
        cost: this.checkedCost(rule, ctx, c),
      }));
    }
    return { rule, identity, tier, cls, cost: this.checkedCost(rule, ctx, cost) };
  }

  /** The rest of `ruleRequest` once a key or tier function answered a promise. */
  private async ruleRequestLater(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
    key: string | Promise<string>,
    pendingTier?: string | Promise<string | undefined>,
    pendingClass?: Promise<string | undefined>,
  ): Promise<RuleRequest> {
    const identity = isPromise(key) ? checkedKey(rule, await key) : key;
    const tier =
      pendingTier !== undefined
        ? await pendingTier
        : rule.tiers && rule.tier
          ? await rule.tier(ctx, client)
          : undefined;
    const cls = pendingClass
      ? await pendingClass
      : rule.class
        ? await rule.class(ctx, client)
        : undefined;
    const cost = typeof rule.cost === 'function' ? await rule.cost(ctx, client) : rule.cost;
    return { rule, identity, tier, cls, cost: this.checkedCost(rule, ctx, cost) };
  }

  /** The rules' values through the protected hooks, for a subclass that overrides one. */
  private async requestsThroughHooks(
    rules: readonly RateLimitRule[],
    ctx: ExecutionContext,
    client: ClientInfo,
    request: HttpRequest,
  ): Promise<RuleRequest[]> {
    const requests: RuleRequest[] = [];
    for (const rule of rules) {
      const identity = await this.getTracker(rule, ctx, client, request);
      const tier = rule.tiers && rule.tier ? await rule.tier(ctx, client) : undefined;
      const cls = rule.class ? await rule.class(ctx, client) : undefined;
      const cost = await this.getCost(rule, ctx, client);
      requests.push({ rule, identity, tier, cls, cost });
    }
    return requests;
  }

  /** A subclass overriding `getTracker` or `getCost` gets its hooks called for every rule. */
  private hooksOverridden(): boolean {
    const base = RateLimitGuard.prototype;
    return this.getTracker !== base.getTracker || this.getCost !== base.getCost;
  }

  private builtInKey(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    client: ClientInfo,
    request: HttpRequest,
    route: string,
  ): string {
    const user = this.options.userId(request, ctx);
    if (user === undefined && this.options.userFallback === 'deny' && keyedByUser(rule.key)) {
      throw new UnauthorizedException(USER_REQUIRED(rule.name));
    }
    const caller = { ip: client.ip, apiKey: client.apiKey, user, route };
    return callerIdentity(
      rule.key as Exclude<RateLimitRule['key'], Function>,
      caller,
      this.options.ipv6Prefix,
    );
  }

  private checkedCost(rule: RateLimitRule, ctx: ExecutionContext, cost: unknown): number {
    const problem = costProblem(cost);
    if (problem === undefined) return cost as number;
    this.logger.error(INVALID_COST(rule.name, problem));
    const retryAfter = retryAfterSeconds(-1, rule.windowMs);
    this.setHeaders(ctx.switchToHttp().getResponse<object>(), {
      'Retry-After': String(retryAfter),
    });
    throw new RateLimitException(rule.name, retryAfter, COST_INVALID_DENIED(rule.name));
  }

  private routeFacts(handler: Function, cls: Function): RouteFacts {
    let facts = this.routes.get(handler);
    if (facts === undefined || facts.cls !== cls) {
      const skip = this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT, [handler, cls]);
      facts = { cls, skip: Boolean(skip), name: routeName(handler, cls) };
      this.routes.set(handler, facts);
    }
    return facts;
  }

  private releaseLeasesOnClose(response: object, leases: Lease[]): void {
    if (leases.length === 0) return;
    const raw = ('raw' in response ? response.raw : response) as NodeJS.EventEmitter;
    raw.once('close', () => {
      this.limiter.release(leases).catch((error: unknown) => {
        // The lease expires with its window; a failed release only holds the slot until then.
        this.logger.warn(`Could not release a concurrency lease: ${String(error)}`);
      });
    });
  }
}

/** A handler's rate-limit metadata, as `routeFacts` caches it. */
interface RouteFacts {
  cls: Function;
  skip: boolean;
  /** `Controller.handler`, what the `route` key source names. */
  name: string;
}

/**
 * Every 429 is raised by this guard, so its stack trace says nothing a log could use, and
 * capturing one is the largest part of what a denial costs.
 */
function withoutStack<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const routeName = (handler: Function, cls: Function) => `${cls.name}.${handler.name}`;

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

function checkedKey(rule: RateLimitRule, id: unknown): string {
  if (typeof id !== 'string' || id === '') {
    throw new TypeError(
      `Rate-limit rule "${rule.name}": its key function must return a non-empty string`,
    );
  }
  return id;
}
