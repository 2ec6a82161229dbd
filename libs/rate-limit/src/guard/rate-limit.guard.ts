import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { StoreUnavailableError } from '../errors/index.js';
import type { ClientInfo, Decision, RateLimitRule } from '../interfaces/index.js';
import { DecisionRecorder } from '../metrics/decision-recorder.js';
import { RESOLVED_OPTIONS, SKIP_RATE_LIMIT } from '../rate-limit.constants.js';
import { CLIENT_BLOCKED, COST_ABOVE_LIMIT, RATE_LIMITED, STORE_UNAVAILABLE } from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { RuntimeConfig } from '../runtime/runtime-config.service.js';
import { RateLimitStore, type RuleCall } from '../stores/rate-limit.store.js';
import { stateKey } from '../stores/redis-keys.js';
import { ClientIpResolver } from './client-identity.js';
import { buildDecision } from './decision.js';
import { rateLimitHeaders, retryAfterSeconds } from './rate-limit-headers.js';
import { RateLimitException } from './rate-limit.exception.js';

/** The parts of Express and Fastify requests the guard reads. */
interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  raw?: { socket?: { remoteAddress?: string } };
  user?: { id?: unknown; sub?: unknown };
}

type AppliedRule = RateLimitRule & { limit: number; cost: number };

/**
 * Limits HTTP handlers by their `@RateLimit` rules (and the module's default rules): one store
 * call per request decides every rule at once. Register with `APP_GUARD` or `@UseGuards`.
 * Subclass and override the protected hooks to change how callers are identified or denied.
 * @publicApi
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly logger = new Logger('RateLimit');
  private readonly ips: ClientIpResolver;
  // Injected by property, so subclasses keep the constructor they have.
  @Inject(RuntimeConfig) private readonly runtime!: RuntimeConfig;
  @Inject(DecisionRecorder) private readonly recorder!: DecisionRecorder;

  constructor(
    private readonly reflector: Reflector,
    private readonly registry: RuleRegistry,
    private readonly store: RateLimitStore,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {
    this.ips = new ClientIpResolver(options.trustProxy as boolean | number | string[]);
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT, [ctx.getHandler(), ctx.getClass()])) return true;
    const rules = this.registry.rulesFor(ctx.getHandler());
    if (rules.length === 0) return true;

    const request = ctx.switchToHttp().getRequest<HttpRequest>();
    const response = ctx.switchToHttp().getResponse<object>();
    const client = this.getClient(request);
    const listed = this.runtime.access(client);
    if (listed) {
      this.recorder.listed(rules, listed);
      if (listed.list === 'block') throw new ForbiddenException(CLIENT_BLOCKED);
      return true;
    }
    const applied: AppliedRule[] = [];
    const calls: RuleCall[] = [];
    const identities: string[] = [];
    for (const rule of rules) {
      const id = await this.getTracker(rule, ctx, client, request);
      // A per-key cap is the most specific limit there is: it applies even to an exempt tier.
      const cap = this.runtime.keyCap(rule.name, id);
      const limit = cap?.limit ?? (await this.limitFor(rule, ctx, client));
      if (limit === 'exempt') {
        this.recorder.exempt(rule);
        continue;
      }
      const windowMs = cap?.windowMs ?? rule.windowMs;
      const cost = typeof rule.cost === 'function' ? await rule.cost(ctx, client) : rule.cost;
      calls.push({
        key: stateKey(this.options.keyPrefix, rule.name, id),
        algorithm: rule.algorithm,
        limit,
        windowMs,
        cost,
        enforce: rule.mode === 'enforce',
        leaseId: rule.algorithm === 'concurrency' ? randomUUID() : undefined,
      });
      applied.push({ ...rule, limit, windowMs, cost });
      identities.push(id);
    }
    if (calls.length === 0) return true;

    let result;
    const started = performance.now();
    try {
      result = await this.store.consume(calls);
    } catch (error) {
      this.recorder.failed(this.store.kind);
      return this.onStoreError(error, response, applied);
    }
    const decision = buildDecision(applied, result.outcomes);
    this.recorder.decided(decision, identities, this.store.kind, (performance.now() - started) / 1000);
    this.setHeaders(response, rateLimitHeaders(decision, result.now, this.options.headers));
    if (decision.perRule.some((r) => r.mode === 'dry-run' && !r.allowed)) {
      this.setHeaders(response, { 'X-RateLimit-Dry-Run': 'would-deny', 'X-RateLimit-Remaining': '0' });
    }
    if (!decision.allowed) {
      const { binding } = decision;
      this.setHeaders(response, { 'Retry-After': String(retryAfterSeconds(binding.retryAfterMs, binding.windowMs)) });
      return this.throwThrottlingException(decision);
    }
    this.releaseLeasesOnClose(response, calls, result.outcomes);
    return true;
  }

  /** Who the caller is: client IP (per `trustProxy`) and API key. */
  protected getClient(request: HttpRequest): ClientInfo {
    const socket = request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress;
    const apiKey = request.headers['x-api-key'];
    return {
      ip: this.ips.resolve(socket, request.headers['x-forwarded-for']),
      apiKey: typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined,
    };
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
        throw new TypeError(`Rate-limit rule "${rule.name}": its key function must return a non-empty string`);
      }
      return id;
    }
    const sources = Array.isArray(rule.key) ? rule.key : [rule.key];
    return sources
      .map((source) => {
        switch (source) {
          case 'ip':
            return `ip=${client.ip}`;
          // A caller without an API key or user falls back to its IP: keyless callers never share one budget.
          case 'api-key':
            return client.apiKey !== undefined ? `key=${client.apiKey}` : `ip=${client.ip}`;
          case 'user': {
            const user = request.user?.id ?? request.user?.sub;
            return user !== undefined && user !== null ? `user=${String(user)}` : `ip=${client.ip}`;
          }
          case 'route':
            return `route=${ctx.getClass().name}.${ctx.getHandler().name}`;
          case 'global':
            return 'global';
        }
      })
      .join('|');
  }

  /** Raises the 429 of CONTRACT section 4; headers are already set. */
  protected throwThrottlingException(decision: Decision): never {
    const { binding } = decision;
    const retryAfter = retryAfterSeconds(binding.retryAfterMs, binding.windowMs);
    const message =
      binding.retryAfterMs < 0 ? COST_ABOVE_LIMIT(binding.rule, binding.cost, binding.limit) : RATE_LIMITED(binding.rule);
    throw new RateLimitException(binding.rule, retryAfter, message);
  }

  private async limitFor(rule: RateLimitRule, ctx: ExecutionContext, client: ClientInfo): Promise<number | 'exempt'> {
    if (!rule.tiers || !rule.tier) return rule.limit;
    const tier = await rule.tier(ctx, client);
    return (tier !== undefined && rule.tiers[tier]) || rule.limit;
  }

  private onStoreError(error: unknown, response: object, rules: AppliedRule[]): true {
    if (error instanceof StoreUnavailableError) {
      const window = Math.max(...rules.map((r) => r.windowMs));
      this.setHeaders(response, { 'Retry-After': String(retryAfterSeconds(1000, window)) });
      throw new ServiceUnavailableException(STORE_UNAVAILABLE);
    }
    // A limiter bug must not take the API down: admit, loudly.
    this.logger.error(`Rate limiting skipped after an unexpected store error: ${String(error)}`);
    return true;
  }

  private setHeaders(response: object, headers: Record<string, string>): void {
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
  }

  private releaseLeasesOnClose(response: object, calls: RuleCall[], outcomes: Array<{ allowed: boolean }>): void {
    const leases = calls.filter((c, i) => c.leaseId !== undefined && outcomes[i].allowed);
    if (leases.length === 0) return;
    const raw = ('raw' in response ? response.raw : response) as NodeJS.EventEmitter;
    raw.once('close', () => {
      for (const call of leases) {
        this.store.release(call.key, call.leaseId!).catch((error: unknown) => {
          // The lease expires with its window; a failed release only holds the slot until then.
          this.logger.warn(`Could not release a concurrency lease of ${call.key}: ${String(error)}`);
        });
      }
    });
  }
}
