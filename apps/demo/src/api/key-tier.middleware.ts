import { Injectable, type NestMiddleware } from '@nestjs/common';
import { ApiKeysService } from './api-keys.service.js';

interface KeyedRequest {
  headers: Record<string, string | string[] | undefined>;
  tier?: string;
}

/**
 * Notes the caller's tier on `/api/shared` without refusing anyone: a missing or unknown key
 * is simply the lowest priority class.
 */
@Injectable()
export class KeyTierMiddleware implements NestMiddleware {
  constructor(private readonly keys: ApiKeysService) {}

  use(req: KeyedRequest, _res: unknown, next: (error?: unknown) => void): void {
    const key = req.headers['x-api-key'];
    req.tier = this.keys.tierOf(typeof key === 'string' ? key : undefined);
    next();
  }
}
