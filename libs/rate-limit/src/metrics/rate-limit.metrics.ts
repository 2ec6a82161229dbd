import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { RateLimitStatusService } from '../stores/rate-limit-status.service.js';
import type { BreakerState } from '../stores/resilient.store.js';
import { DurationHistogram } from './duration-histogram.js';

/** How one rule judged one request, as counted by `rate_limit_decisions_total`. @publicApi */
export type DecisionOutcome = 'allowed' | 'denied' | 'dry_run_denied' | 'bypassed' | 'blocked';

const OUTCOMES: readonly DecisionOutcome[] = [
  'allowed',
  'denied',
  'dry_run_denied',
  'bypassed',
  'blocked',
];

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Per-rule counts of this instance, as `GET /admin/stats` shows them. @publicApi */
export interface RuleStats {
  allowed: number;
  denied: number;
  dryRunDenied: number;
}

/**
 * The Prometheus series listed in the README (Metrics) in a registry of their own (never prom-client's
 * global one, so two apps in one process or an app with its own metrics never collide), plus
 * the default process metrics. Labels are rule names, outcomes and store kinds only: their
 * number is fixed at boot, whatever the traffic. Serve `registry.metrics()` with
 * `registry.contentType`.
 * @publicApi
 */
@Injectable()
export class RateLimitMetrics implements OnApplicationBootstrap {
  /** Every series of the limiter; merge it with yours through `Registry.merge` if you keep one. */
  readonly registry = new Registry();
  private readonly decisions: Counter<'rule' | 'outcome'>;
  private readonly duration: DurationHistogram<'store'>;
  private readonly storeErrors: Counter<'store'>;
  /**
   * Decisions since the last scrape by rule and outcome, added to the counter when it is read:
   * counting a request is an increment, not a labelled prom-client call.
   */
  private readonly pending = new Map<string, Record<DecisionOutcome, number>>();

  constructor(
    private readonly status: RateLimitStatusService,
    private readonly rules: RuleRegistry,
  ) {
    const registers = [this.registry];
    // The breaker-guarded store counts its own failures and fallbacks; without it there are none to read.
    const stats = () => status.resilientStore?.stats;
    collectDefaultMetrics({ register: this.registry });
    const pending = this.pending;
    this.decisions = new Counter({
      name: 'rate_limit_decisions_total',
      help: 'Rate-limit decisions by rule and outcome (allowed, denied, dry_run_denied, bypassed, blocked)',
      labelNames: ['rule', 'outcome'],
      registers,
      collect() {
        for (const [rule, counts] of pending) {
          for (const outcome of OUTCOMES) {
            if (counts[outcome] === 0) continue;
            this.inc({ rule, outcome }, counts[outcome]);
            counts[outcome] = 0;
          }
        }
      },
    });
    this.duration = new DurationHistogram(
      'rate_limit_decision_duration_seconds',
      'Time the store took to decide a request, by the store that answered',
      'store',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      this.registry,
    );
    // Counts kept by the store are copied in at scrape time, as deltas so the counter stays monotonic.
    let errorsSeen = 0;
    this.storeErrors = new Counter({
      name: 'rate_limit_store_errors_total',
      help: 'Store calls that failed (errors, timeouts, calls refused by the open breaker)',
      labelNames: ['store'],
      registers,
      collect() {
        const now = stats();
        if (!now) return;
        this.inc({ store: 'redis' }, now.storeErrors - errorsSeen);
        errorsSeen = now.storeErrors;
      },
    });
    let fallbacksSeen = 0;
    new Counter({
      name: 'rate_limit_fallback_decisions_total',
      help: 'Decisions made by the failure mode (memory, open or closed) while Redis was unavailable',
      registers,
      collect() {
        const now = stats();
        if (!now) return;
        this.inc(now.fallbackDecisions - fallbacksSeen);
        fallbacksSeen = now.fallbackDecisions;
      },
    });
    new Gauge({
      name: 'rate_limit_breaker_state',
      help: 'Circuit breaker around Redis: 0 closed, 1 half-open, 2 open',
      registers,
      collect() {
        this.set(BREAKER_VALUE[status.snapshot().breaker]);
      },
    });
  }

  /** Starts every rule's series at 0, so `rate()` and alerts work before the first event. */
  onApplicationBootstrap(): void {
    for (const { rule } of this.rules.list()) {
      for (const outcome of OUTCOMES) this.decisions.inc({ rule: rule.name, outcome }, 0);
    }
  }

  /** Counts one rule's judgement of one request. */
  decision(rule: string, outcome: DecisionOutcome): void {
    let counts = this.pending.get(rule);
    if (!counts) {
      counts = { allowed: 0, denied: 0, dry_run_denied: 0, bypassed: 0, blocked: 0 };
      this.pending.set(rule, counts);
    }
    counts[outcome]++;
  }

  /** Records how long a store call took. */
  observeDuration(store: 'redis' | 'memory', seconds: number): void {
    this.duration.observe(store, seconds);
  }

  /** Counts a failed store call, unless the store counts its own failures (then they come from it). */
  storeError(store: 'redis' | 'memory'): void {
    if (!this.status.resilientStore) this.storeErrors.inc({ store });
  }

  /** This instance's counts per rule (every known rule, zeros included). */
  async ruleStats(): Promise<Record<string, RuleStats>> {
    const stats: Record<string, RuleStats> = {};
    for (const { rule } of this.rules.list())
      stats[rule.name] = { allowed: 0, denied: 0, dryRunDenied: 0 };
    const field = { allowed: 'allowed', denied: 'denied', dry_run_denied: 'dryRunDenied' } as const;
    for (const { labels, value } of (await this.decisions.get()).values) {
      const name = field[labels.outcome as keyof typeof field];
      const rule = stats[String(labels.rule)];
      if (name && rule) rule[name] = value;
    }
    return stats;
  }
}
