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
import { ADMIN_UNAUTHORIZED } from '../rate-limit.messages.js';
import { ADMIN_OPTIONS, type RateLimitAdminOptions } from './rate-limit-admin.module-definition.js';

// Comparing digests keeps the comparison constant-time whatever the lengths of the two tokens.
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Admits admin requests carrying the configured bearer token. Without a token configured the
 * admin API does not exist: 404.
 * @internal
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(
    @Inject(ADMIN_OPTIONS) options: RateLimitAdminOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.expected = options.token ? digest(options.token) : undefined;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected) throw new NotFoundException();
    const http = ctx.switchToHttp();
    type Request = { headers: Record<string, string | string[] | undefined> };
    const header = http.getRequest<Request>().headers.authorization;
    const token = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    if (token !== undefined && timingSafeEqual(digest(token), this.expected)) return true;
    const challenge = 'Bearer realm="rate-limit-admin"';
    this.adapterHost.httpAdapter.setHeader(http.getResponse(), 'WWW-Authenticate', challenge);
    throw new UnauthorizedException(ADMIN_UNAUTHORIZED);
  }
}
