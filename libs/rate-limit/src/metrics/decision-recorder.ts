import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DecisionEvents } from '../core/decision-events.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { ruleOutcome } from './rule-outcome.js';

/**
 * Counts the core's decisions into `RateLimitMetrics`: the decision counters and the latency
 * histogram. Registered by `RateLimitMetricsModule`; without it nothing loads prom-client.
 * @internal
 */
@Injectable()
export class DecisionRecorder implements OnModuleInit, OnModuleDestroy {
  private unsubscribe?: () => void;

  constructor(
    private readonly events: DecisionEvents,
    private readonly metrics: RateLimitMetrics,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.events.subscribe({
      listed: (rules, hit) => {
        const outcome = hit.list === 'block' ? 'blocked' : 'bypassed';
        for (const rule of rules) this.metrics.decision(rule.name, outcome);
      },
      exempt: (rule) => this.metrics.decision(rule.name, 'bypassed'),
      decided: (decision, _identities, store, seconds) => {
        this.metrics.observeDuration(store, seconds);
        for (const rule of decision.perRule) {
          const outcome = ruleOutcome(decision.allowed, rule);
          if (outcome !== undefined) this.metrics.decision(rule.rule, outcome);
        }
      },
      failed: (store) => this.metrics.storeError(store),
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }
}
