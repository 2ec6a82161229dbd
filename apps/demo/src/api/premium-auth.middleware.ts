import { Injectable, type NestMiddleware, UnauthorizedException } from '@nestjs/common';
import { ApiKeysService } from './api-keys.service.js';

interface KeyedRequest {
  headers: Record<string, string | string[] | undefined>;
  tier?: string;
}

/**
 * Authenticates `/api/premium` before any guard runs, so a missing or unknown key gets a 401
 * with no rate-limit headers, and the limiter reads the caller's tier from the request.
 */
@Injectable()
export class PremiumAuthMiddleware implements NestMiddleware {
  constructor(private readonly keys: ApiKeysService) {}

  use(req: KeyedRequest, _res: unknown, next: (error?: unknown) => void): void {
    const key = req.headers['x-api-key'];
    const tier = this.keys.tierOf(typeof key === 'string' ? key : undefined);
    if (tier === undefined) {
      throw new UnauthorizedException(
        key === undefined ? 'Missing X-API-Key header' : 'Unknown API key',
      );
    }
    req.tier = tier;
    next();
  }
}
