import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DecisionEvents } from '../core/decision-events.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { ruleOutcome } from './rule-outcome.js';
import { TopKeys } from './top-keys.js';

/**
 * Counts the core's decisions into `RateLimitMetrics` (the decision counters and the latency
 * histogram) and `TopKeys` (who was throttled, for the admin stats). Registered by
 * `RateLimitMetricsModule`; without it nothing loads prom-client.
 * @internal
 */
@Injectable()
export class DecisionRecorder implements OnModuleInit, OnModuleDestroy {
  private unsubscribe?: () => void;

  constructor(
    private readonly events: DecisionEvents,
    private readonly metrics: RateLimitMetrics,
    private readonly topKeys: TopKeys,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.events.subscribe({
      listed: (rules, hit) => {
        const outcome = hit.list === 'block' ? 'blocked' : 'bypassed';
        for (const rule of rules) this.metrics.decision(rule.name, outcome);
      },
      exempt: (rule) => this.metrics.decision(rule.name, 'bypassed'),
      decided: (decision, identities, store, seconds) => {
        this.metrics.observeDuration(store, seconds);
        const { perRule } = decision;
        for (let i = 0; i < perRule.length; i++) {
          const outcome = ruleOutcome(decision.allowed, perRule[i]);
          if (outcome === undefined) continue;
          this.metrics.decision(perRule[i].rule, outcome);
          if (outcome !== 'allowed') this.topKeys.record(perRule[i].rule, identities[i]);
        }
      },
      failed: (store) => this.metrics.storeError(store),
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }
}
