import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { retryAfterSeconds } from '../core/decision.js';
import { DecisionEvents } from '../core/decision-events.js';
import type { Decision } from '../interfaces/index.js';
import { RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import type { ListHit } from '../runtime/runtime-config.service.js';
import { ruleOutcome } from './rule-outcome.js';
import { ThrottleLog } from './throttle-log.js';

/**
 * Writes a sampled log line per throttle event (Nest's `Logger`, so whatever logger the app
 * uses, e.g. pino, writes it), observing the core's decisions.
 * @internal
 */
@Injectable()
export class ThrottleLogObserver implements OnModuleInit, OnModuleDestroy {
  private readonly log: ThrottleLog;
  private unsubscribe?: () => void;

  constructor(
    private readonly events: DecisionEvents,
    @Inject(RESOLVED_OPTIONS) options: ResolvedOptions,
  ) {
    this.log = new ThrottleLog(new Logger('RateLimit'), { secret: options.logSecret });
  }

  onModuleInit(): void {
    this.unsubscribe = this.events.subscribe({
      listed: (_rules, hit: ListHit) => {
        if (hit.list === 'block') this.log.record('blocked', '*', hit.id);
      },
      decided: (decision: Decision, identities) => {
        decision.perRule.forEach((rule, i) => {
          const outcome = ruleOutcome(decision.allowed, rule);
          if (outcome === undefined || outcome === 'allowed') return;
          this.log.record(
            outcome,
            rule.rule,
            identities[i],
            retryAfterSeconds(rule.retryAfterMs, rule.windowMs),
          );
        });
      },
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }
}
