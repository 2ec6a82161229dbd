import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { retryAfterSeconds } from '../core/decision.js';
import { callerIdentity } from '../core/identity/index.js';
import { RateLimiter } from '../core/rate-limiter.service.js';
import type { RuleDecision } from '../interfaces/index.js';
import { StoreUnavailableError } from '../errors/index.js';
import { ClientIpResolver } from '../guard/client-identity.js';
import { type HttpRequest, readClient } from '../guard/http-request.js';
import { RateLimitException } from '../guard/rate-limit.exception.js';
import type { RateLimitRule } from '../interfaces/index.js';
import { RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import { ADMIN_TOO_MANY_FAILURES, ADMIN_UNAUTHORIZED } from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { validateRule } from '../rules/rule.validator.js';
import {
  ADMIN_OPTIONS,
  checkAdminToken,
  type RateLimitAdminOptions,
} from './rate-limit-admin.module-definition.js';

// Comparing digests keeps the comparison constant-time whatever the lengths of the two tokens.
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Failed authentications per client IP: after 10 in a minute every admin request of that IP
 * answers 429 until the window ends, the right token included, so guessing the token costs a
 * minute per 10 tries on the whole fleet (the budget lives in Redis like any other).
 */
const FAILED_AUTH_RULE: RateLimitRule = validateRule(
  { name: 'admin-auth-failures', algorithm: 'fixed-window', limit: 10, window: '1m', key: 'ip' },
  'RateLimitAdminModule',
  'admin-auth-failures',
);

/**
 * Admits admin requests carrying the configured bearer token. Without a token configured the
 * admin API does not exist: 404.
 * @internal
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;
  private readonly ips: ClientIpResolver;
  private readonly ipv6Prefix: number;

  constructor(
    @Inject(ADMIN_OPTIONS) options: RateLimitAdminOptions,
    @Inject(RESOLVED_OPTIONS) limiterOptions: ResolvedOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly limiter: RateLimiter,
  ) {
    checkAdminToken(options.token);
    this.expected = options.token ? digest(options.token) : undefined;
    this.ips = new ClientIpResolver(limiterOptions.trustProxy);
    this.ipv6Prefix = limiterOptions.ipv6Prefix;
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (!this.expected) throw new NotFoundException();
    const http = ctx.switchToHttp();
    const request = http.getRequest<HttpRequest>();
    const ip = readClient(request, this.ips).ip;
    await this.refuseWhenLockedOut(ip, http.getResponse());
    const header = request.headers.authorization;
    const token = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    if (token !== undefined && timingSafeEqual(digest(token), this.expected)) return true;
    await this.countFailure(ip);
    const challenge = 'Bearer realm="rate-limit-admin"';
    this.adapterHost.httpAdapter.setHeader(http.getResponse(), 'WWW-Authenticate', challenge);
    throw new UnauthorizedException(ADMIN_UNAUTHORIZED);
  }

  private async refuseWhenLockedOut(ip: string, response: object): Promise<void> {
    // A look (cost 0) under the failure mode: the admin API stays usable while Redis is down.
    const look = await this.failures(ip, 0);
    if (!look || look.remaining > 0) return;
    const retryAfter = retryAfterSeconds(look.resetAtMs - Date.now(), FAILED_AUTH_RULE.windowMs);
    this.adapterHost.httpAdapter.setHeader(response, 'Retry-After', String(retryAfter));
    throw new RateLimitException(FAILED_AUTH_RULE.name, retryAfter, ADMIN_TOO_MANY_FAILURES);
  }

  private async countFailure(ip: string): Promise<void> {
    await this.failures(ip, 1);
  }

  /** Charges `cost` failures to `ip`; kept out of the metrics, which count the app's rules only. */
  private async failures(ip: string, cost: number): Promise<RuleDecision | undefined> {
    const identity = callerIdentity('ip', { ip }, this.ipv6Prefix);
    try {
      const verdict = await this.limiter.decide(
        [{ rule: FAILED_AUTH_RULE, identity, cost }],
        undefined,
        false,
      );
      return verdict.kind === 'decided' ? verdict.decision.perRule[0] : undefined;
    } catch (error) {
      return ignoreUnavailable(error);
    }
  }
}

/** In `closed` failure mode the store refuses: the token check still protects the API. */
function ignoreUnavailable(error: unknown): undefined {
  if (error instanceof StoreUnavailableError) return undefined;
  throw error;
}
