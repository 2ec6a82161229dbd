import { Inject, Injectable } from '@nestjs/common';
import type { FailureMode } from '../interfaces/index.js';
import { RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { RateLimitStore } from './rate-limit.store.js';
import { ResilientStore, type BreakerState, type ResilientStoreStats } from './resilient.store.js';

/** Where decisions are made right now. @publicApi */
export interface RateLimitStatus {
  /** `redis` while Redis decides; `memory` while the failure mode decides, or without Redis. */
  store: 'redis' | 'memory';
  /** The circuit breaker's state; `closed` without Redis. */
  breaker: BreakerState;
  /** Redis is configured but decisions are made without it. */
  degraded: boolean;
  failureMode: FailureMode;
  /** Whether the limiter decides: `false` only in `closed` failure mode while degraded (503s). */
  deciding: boolean;
  /** Breaker counters; absent without Redis. */
  stats?: ResilientStoreStats;
}

/**
 * Read-only view of the store and its circuit breaker, for health checks, metrics and admin
 * pages. `resilientStore` gives the breaker's events (`stateChange`, `decision`, `storeError`).
 * @publicApi
 */
@Injectable()
export class RateLimitStatusService {
  constructor(
    private readonly store: RateLimitStore,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** The breaker-guarded Redis store; `undefined` without Redis or with a custom store. */
  get resilientStore(): ResilientStore | undefined {
    return this.store instanceof ResilientStore ? this.store : undefined;
  }

  snapshot(): RateLimitStatus {
    const resilient = this.resilientStore;
    const degraded = resilient?.degraded ?? false;
    const failureMode = this.options.failureMode;
    return {
      store: this.store.kind,
      breaker: resilient?.state ?? 'closed',
      degraded,
      failureMode,
      deciding: !(degraded && failureMode === 'closed'),
      stats: resilient?.stats,
    };
  }
}
