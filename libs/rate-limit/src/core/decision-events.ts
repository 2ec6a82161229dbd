import { Injectable, Logger } from '@nestjs/common';
import type { Decision, RateLimitRule } from '../interfaces/index.js';
import type { ListHit } from '../runtime/runtime-config.service.js';

/**
 * Watches what the limiter decides: metrics count it, the throttle log writes it. Every method
 * is optional. Observers run synchronously after each decision: keep them cheap. One that
 * throws is logged and ignored.
 * @publicApi
 */
export interface DecisionObserver {
  /** A caller on a list: every rule of the route was skipped (`allow`) or the request refused (`block`). */
  listed?(rules: readonly RateLimitRule[], hit: ListHit): void;
  /** A caller whose tier is exempt from `rule`. */
  exempt?(rule: RateLimitRule): void;
  /** A store decision; `identities[i]` is whose budget `decision.perRule[i]` spent. */
  decided?(
    decision: Decision,
    identities: readonly string[],
    store: 'redis' | 'memory',
    seconds: number,
  ): void;
  /** A store call that threw. */
  failed?(store: 'redis' | 'memory'): void;
}

type Event = keyof DecisionObserver;
type Args<E extends Event> = Parameters<NonNullable<DecisionObserver[E]>>;

/**
 * Where the limiter announces its decisions, so that what observes them (metrics, logs) depends
 * on the core and never the other way round.
 * @publicApi
 */
@Injectable()
export class DecisionEvents {
  private readonly logger = new Logger('RateLimit');
  private observers: readonly DecisionObserver[] = [];

  /** Adds an observer; returns the function that removes it. */
  subscribe(observer: DecisionObserver): () => void {
    this.observers = [...this.observers, observer];
    return () => {
      this.observers = this.observers.filter((o) => o !== observer);
    };
  }

  /** @internal */
  emit<E extends Event>(event: E, ...args: Args<E>): void {
    for (const observer of this.observers) {
      const handler = observer[event] as ((...a: Args<E>) => void) | undefined;
      if (!handler) continue;
      try {
        handler.apply(observer, args);
      } catch (error) {
        this.logger.error(
          `A rate-limit decision observer threw on "${event}" (ignored): ${String(error)}`,
        );
      }
    }
  }
}
