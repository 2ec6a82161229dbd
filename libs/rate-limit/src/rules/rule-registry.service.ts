import { Injectable } from '@nestjs/common';
import { RateLimitConfigError } from '../errors/index.js';
import type { RateLimitRule } from '../interfaces/index.js';
import { DUPLICATE_RULE } from '../rate-limit.messages.js';
import { sameRule } from './rule.validator.js';

/** Runtime change of a rule (admin API). */
export interface RuleOverride {
  limit?: number;
  windowMs?: number;
  mode?: RateLimitRule['mode'];
  /** A weighted rule's new weights, by class (classes left out keep theirs). */
  classes?: Record<string, number>;
}

/**
 * Every rule by name and which rules guard which handler. Static rules come from decorators at
 * boot; overrides (by name) layer on top and can be dropped to get the static rule back.
 * A handler rule may replace a class or module-wide rule of the same name for that handler;
 * the outermost definition is the one listed, and overrides apply to every variant.
 * @publicApi
 */
@Injectable()
export class RuleRegistry {
  private readonly statics = new Map<string, { rule: RateLimitRule; where: string }>();
  private readonly overrides = new Map<string, RuleOverride>();
  private readonly byHandler = new Map<Function, readonly RateLimitRule[]>();
  private defaults: readonly RateLimitRule[] = [];
  /** Rules in force per handler, overrides applied: built on first use, dropped on any change. */
  private readonly inForce = new Map<Function, readonly RateLimitRule[]>();

  /**
   * @internal Registers a validated rule. A name reused with other settings is a boot error
   * unless `replacing` (a handler rule replacing an enclosing rule of that name).
   */
  add(rule: RateLimitRule, where: string, replacing = false): void {
    const existing = this.statics.get(rule.name);
    if (existing && !replacing && !sameRule(existing.rule, rule)) {
      throw new RateLimitConfigError(
        DUPLICATE_RULE(rule.name, existing.where, where),
        where,
        'name',
      );
    }
    if (!existing) this.statics.set(rule.name, { rule, where });
  }

  /** @internal */
  setDefaults(rules: RateLimitRule[]): void {
    this.defaults = Object.freeze([...rules]);
    this.inForce.clear();
  }

  /** @internal */
  bindHandler(handler: Function, rules: RateLimitRule[]): void {
    this.byHandler.set(handler, Object.freeze([...rules]));
    this.inForce.clear();
  }

  /** Rules in force for a handler, overrides applied; handlers never seen at boot get the module-wide defaults. */
  rulesFor(handler: Function): RateLimitRule[] {
    return [...this.rulesInForce(handler)];
  }

  /**
   * `rulesFor` without the copy, for the request path: the same frozen list (and rule objects)
   * for every request until a rule or an override changes.
   * @internal
   */
  rulesInForce(handler: Function): readonly RateLimitRule[] {
    let rules = this.inForce.get(handler);
    if (rules === undefined) {
      rules = Object.freeze(
        (this.byHandler.get(handler) ?? this.defaults).map((r) => this.apply(r)),
      );
      this.inForce.set(handler, rules);
    }
    return rules;
  }

  get(name: string): RateLimitRule | undefined {
    const entry = this.statics.get(name);
    return entry && this.apply(entry.rule);
  }

  /** Every rule with where it comes from. */
  list(): Array<{ rule: RateLimitRule; source: 'static' | 'override' }> {
    return [...this.statics.values()].map(({ rule }) => ({
      rule: this.apply(rule),
      source: this.overrides.has(rule.name) ? 'override' : 'static',
    }));
  }

  /** Replaces the runtime override of a rule (`undefined` drops it). Unknown names return false. */
  setOverride(name: string, override: RuleOverride | undefined): boolean {
    if (!this.statics.has(name)) return false;
    if (override === undefined) this.overrides.delete(name);
    else this.overrides.set(name, Object.freeze(definedOnly(override)));
    this.inForce.clear();
    return true;
  }

  private apply(rule: RateLimitRule): RateLimitRule {
    const found = this.overrides.get(rule.name);
    if (!found) return rule;
    const { classes, ...override } = found;
    if (classes && rule.classes) {
      // Only the rule's own classes can be reweighted; a class it does not have is ignored.
      const known = Object.entries(classes).filter(([cls]) => Object.hasOwn(rule.classes!, cls));
      rule = { ...rule, classes: Object.freeze({ ...rule.classes, ...Object.fromEntries(known) }) };
    }
    const { limit } = override;
    if (limit === undefined || !rule.tiers) return { ...rule, ...override };
    // A runtime limit is what every caller gets, whatever its tier; exempt tiers stay exempt.
    const tiers = Object.fromEntries(
      Object.entries(rule.tiers).map(([tier, v]) => [tier, v === 'exempt' ? v : limit]),
    );
    return { ...rule, ...override, tiers: Object.freeze(tiers) };
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
