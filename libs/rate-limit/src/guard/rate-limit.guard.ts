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

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (
      this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT, [ctx.getHandler(), ctx.getClass()])
    )
      return true;
    const rules = this.registry.rulesFor(ctx.getHandler());
    if (rules.length === 0) return true;
    if (ctx.getType() !== 'http') {
      this.resolver ??= new ClientIpResolver(this.options.trustProxy);
      this.contexts ??= new ContextLimiter(this.limiter, this.options, this.resolver, this.logger);
      return this.contexts.limit(ctx, rules);
    }

    const request = ctx.switchToHttp().getRequest<HttpRequest>();
    const response = ctx.switchToHttp().getResponse<object>();
    const client = this.getClient(request);
    const requests: RuleRequest[] = [];
    for (const rule of rules) {
      const identity = await this.getTracker(rule, ctx, client, request);
      const tier = rule.tiers && rule.tier ? await rule.tier(ctx, client) : undefined;
      const cls = rule.class ? await rule.class(ctx, client) : undefined;
      const cost = await this.getCost(rule, ctx, client);
      requests.push({ rule, identity, tier, cls, cost });
    }

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
    if (typeof rule.key === 'function') {
      const id = await rule.key(ctx, client);
      if (typeof id !== 'string' || id === '') {
        throw new TypeError(
          `Rate-limit rule "${rule.name}": its key function must return a non-empty string`,
        );
      }
      return id;
    }
    const user = this.options.userId(request, ctx);
    if (user === undefined && this.options.userFallback === 'deny' && keyedByUser(rule.key)) {
      throw new UnauthorizedException(USER_REQUIRED(rule.name));
    }
    const caller = {
      ip: client.ip,
      apiKey: client.apiKey,
      user,
      route: `${ctx.getClass().name}.${ctx.getHandler().name}`,
    };
    return callerIdentity(rule.key, caller, this.options.ipv6Prefix);
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
    const problem = costProblem(cost);
    if (problem === undefined) return cost;
    this.logger.error(INVALID_COST(rule.name, problem));
    const retryAfter = retryAfterSeconds(-1, rule.windowMs);
    this.setHeaders(ctx.switchToHttp().getResponse<object>(), {
      'Retry-After': String(retryAfter),
    });
    throw new RateLimitException(rule.name, retryAfter, COST_INVALID_DENIED(rule.name));
  }

  /** Raises the 429 (`RateLimitException`); headers are already set. */
  protected throwThrottlingException(decision: Decision): never {
    const { binding } = decision;
    const message =
      binding.retryAfterMs < 0
        ? COST_ABOVE_LIMIT(binding.rule, binding.cost, binding.limit)
        : RATE_LIMITED(binding.rule);
    throw new RateLimitException(binding.rule, decision.retryAfter, message);
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
