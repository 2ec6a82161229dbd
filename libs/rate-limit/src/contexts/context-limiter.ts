import type { ExecutionContext, Logger } from '@nestjs/common';
import { costProblem, retryAfterSeconds } from '../core/decision.js';
import { callerIdentity, keyedByUser } from '../core/identity/index.js';
import type { RateLimiter, RuleRequest } from '../core/rate-limiter.service.js';
import { RateLimitConfigError, StoreUnavailableError } from '../errors/index.js';
import type { ClientIpResolver } from '../guard/client-identity.js';
import type { ClientInfo, KeySource, RateLimitRule } from '../interfaces/index.js';
import {
  CLIENT_BLOCKED,
  COST_ABOVE_LIMIT,
  COST_INVALID_DENIED,
  INVALID_COST,
  RATE_LIMITED,
  STORE_UNAVAILABLE,
  USER_REQUIRED,
} from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import {
  type ContextAdapter,
  type ContextCaller,
  contextAdapter,
  isLimitedContext,
} from './context-adapter.js';

/** What key, tier and cost functions get for a caller without an address. */
const NO_ADDRESS: ClientInfo = Object.freeze({ ip: 'unknown' });

export const UNSUPPORTED_CONTEXT = (type: string, where: string) =>
  `${where} has rate-limit rules but runs in a "${type}" context, which the rate-limit guard ` +
  `cannot read; limit it with RateLimiter.consume instead`;

export const NO_CALLER_ADDRESS = (rule: string, type: string) =>
  `Rate-limit rule "${rule}" needs the client IP and this ${type} call has none; ` +
  `key the rule by a function or by 'global'`;

/**
 * The guard's path for GraphQL, WebSockets and microservices: the context's adapter reads the
 * caller, the core decides, the adapter words the denial. Same rules, same keys, same budgets
 * as HTTP.
 * @internal
 */
export class ContextLimiter {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly options: ResolvedOptions,
    private readonly ips: ClientIpResolver,
    private readonly logger: Logger,
  ) {}

  async limit(ctx: ExecutionContext, rules: readonly RateLimitRule[]): Promise<true> {
    const type = ctx.getType<string>();
    const where = `${ctx.getClass().name}.${ctx.getHandler().name}`;
    // Never admit a limited handler unread: the boot check names it first, this refuses it.
    if (!isLimitedContext(type))
      throw new RateLimitConfigError(UNSUPPORTED_CONTEXT(type, where), where);
    const adapter = await contextAdapter(type);
    const caller = adapter.read(ctx, this.ips);
    const client = caller.client ?? NO_ADDRESS;
    const user = this.options.userId(caller.principal, ctx);
    const requests: RuleRequest[] = [];
    for (const rule of rules) {
      const identity = await this.identity(rule, ctx, adapter, caller, user);
      const tier = rule.tiers && rule.tier ? await rule.tier(ctx, client) : undefined;
      const cost = typeof rule.cost === 'function' ? await rule.cost(ctx, client) : rule.cost;
      const problem = costProblem(cost);
      if (problem !== undefined) {
        this.logger.error(INVALID_COST(rule.name, problem));
        const retryAfter = retryAfterSeconds(-1, rule.windowMs);
        throw adapter.error(429, COST_INVALID_DENIED(rule.name), { rule: rule.name, retryAfter });
      }
      requests.push({ rule, identity, tier, cost });
    }

    let verdict;
    try {
      verdict = await this.limiter.decide(requests, caller.client);
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        const window = Math.max(...rules.map((r) => r.windowMs));
        throw adapter.error(503, STORE_UNAVAILABLE, {
          rule: rules[0].name,
          retryAfter: retryAfterSeconds(1000, window),
        });
      }
      this.logger.error(`Rate limiting skipped after an unexpected store error: ${String(error)}`);
      return true;
    }
    if (verdict.kind === 'listed') {
      if (verdict.hit.list === 'block') throw adapter.error(403, CLIENT_BLOCKED);
      return true;
    }
    if (verdict.kind === 'exempt') return true;
    const { decision, leases } = verdict;
    if (!decision.allowed) {
      const { binding } = decision;
      const message =
        binding.retryAfterMs < 0
          ? COST_ABOVE_LIMIT(binding.rule, binding.cost, binding.limit)
          : RATE_LIMITED(binding.rule);
      throw adapter.error(429, message, { rule: binding.rule, retryAfter: decision.retryAfter });
    }
    if (leases.length > 0 && caller.closes) {
      caller.closes.once('close', () => {
        this.limiter.release(leases).catch((error: unknown) => {
          this.logger.warn(`Could not release a concurrency lease: ${String(error)}`);
        });
      });
    }
    return true;
  }

  private async identity(
    rule: RateLimitRule,
    ctx: ExecutionContext,
    adapter: ContextAdapter,
    caller: ContextCaller,
    user: string | undefined,
  ): Promise<string> {
    if (typeof rule.key === 'function') {
      const id = await rule.key(ctx, caller.client ?? NO_ADDRESS);
      if (typeof id !== 'string' || id === '') {
        throw new TypeError(
          `Rate-limit rule "${rule.name}": its key function must return a non-empty string`,
        );
      }
      return id;
    }
    if (user === undefined && this.options.userFallback === 'deny' && keyedByUser(rule.key)) {
      throw adapter.error(401, USER_REQUIRED(rule.name));
    }
    const sources: readonly KeySource[] = typeof rule.key === 'string' ? [rule.key] : rule.key;
    const apiKey = caller.client?.apiKey;
    const needsIp = sources.some(
      (s) => s === 'ip' || (s === 'api-key' && !apiKey) || (s === 'user' && !user),
    );
    if (needsIp && !caller.client) {
      const message = NO_CALLER_ADDRESS(rule.name, adapter.type);
      this.logger.error(message);
      throw adapter.error(500, message);
    }
    const { ip } = caller.client ?? NO_ADDRESS;
    return callerIdentity(
      rule.key,
      { ip, apiKey, user, route: caller.route },
      this.options.ipv6Prefix,
    );
  }
}
