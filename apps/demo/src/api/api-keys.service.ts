import { Inject, Injectable } from '@nestjs/common';
import { DEMO_CONFIG, type DemoConfig, type Tier } from '../config/demo-config.js';

/** The demo's API keys (DEMO_API_KEYS) and their tiers. */
@Injectable()
export class ApiKeysService {
  constructor(@Inject(DEMO_CONFIG) private readonly config: DemoConfig) {}

  tierOf(key: string | undefined): Tier | undefined {
    return key === undefined ? undefined : this.config.apiKeys.get(key);
  }
}
