import { Injectable, Logger } from '@nestjs/common';
import type { Decision, RateLimitRule, RuleDecision } from '../interfaces/index.js';
import { retryAfterSeconds } from '../guard/rate-limit-headers.js';
import type { ListHit } from '../runtime/runtime-config.service.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { ThrottleLog, type ThrottleOutcome } from './throttle-log.js';
import { TopKeys } from './top-keys.js';

/**
 * A rule's outcome for one request. A request denied by another rule of its route was neither
 * admitted nor denied by this one (nothing was charged), so it is not counted for it.
 * @internal
 */
export function ruleOutcome(admitted: boolean, rule: RuleDecision): 'allowed' | ThrottleOutcome | undefined {
  if (!rule.allowed) return rule.mode === 'dry-run' ? 'dry_run_denied' : 'denied';
  return admitted ? 'allowed' : undefined;
}

/**
 * What the guard reports after judging a request: the decision counters and latency histogram,
 * and a sampled log line per throttle event (Nest's `Logger`, so whatever logger the app uses,
 * e.g. pino, writes it), and who was throttled for the admin stats.
 * @internal
 */
@Injectable()
export class DecisionRecorder {
  private readonly log = new ThrottleLog(new Logger('RateLimit'));

  constructor(
    private readonly metrics: RateLimitMetrics,
    private readonly topKeys: TopKeys,
  ) {}

  /** A caller on a list: every rule of the route counts it as bypassed or blocked. */
  listed(rules: readonly RateLimitRule[], hit: ListHit): void {
    const outcome = hit.list === 'block' ? 'blocked' : 'bypassed';
    for (const rule of rules) this.metrics.decision(rule.name, outcome);
    if (hit.list === 'block') this.log.record('blocked', '*', hit.id);
  }

  /** A caller whose tier is exempt from `rule`. */
  exempt(rule: RateLimitRule): void {
    this.metrics.decision(rule.name, 'bypassed');
  }

  /** A store decision; `identities[i]` is whose budget `decision.perRule[i]` spent. */
  decided(
    decision: Decision,
    identities: readonly string[],
    store: 'redis' | 'memory',
    seconds: number,
  ): void {
    this.metrics.observeDuration(store, seconds);
    decision.perRule.forEach((rule, i) => {
      const outcome = ruleOutcome(decision.allowed, rule);
      if (outcome === undefined) return;
      this.metrics.decision(rule.rule, outcome);
      if (outcome !== 'allowed') {
        const retryAfter = retryAfterSeconds(rule.retryAfterMs, rule.windowMs);
        this.log.record(outcome, rule.rule, identities[i], retryAfter);
        this.topKeys.record(rule.rule, identities[i]);
      }
    });
  }

  /** A store call that threw. */
  failed(store: 'redis' | 'memory'): void {
    this.metrics.storeError(store);
  }
}
