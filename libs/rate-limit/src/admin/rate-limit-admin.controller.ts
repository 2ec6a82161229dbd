import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpException,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Put,
  Query,
  ServiceUnavailableException,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { namedIdentity } from '../core/identity/index.js';
import { hasTier } from '../core/limit-policy.js';
import { RateLimiter } from '../core/rate-limiter.service.js';
import { SkipRateLimit } from '../decorators/index.js';
import type { RateLimitRule } from '../interfaces/index.js';
import { type ListName, listEntry } from '../lists/access-list.js';
import { RateLimitMetrics, type RuleStats } from '../metrics/rate-limit.metrics.js';
import { TopKeys, type TopKey } from '../metrics/top-keys.js';
import { RESOLVED_OPTIONS } from '../rate-limit.constants.js';
import {
  CONFIG_UNAVAILABLE,
  EMPTY_PATCH,
  LIMIT_BELOW_COST,
  TOO_MANY_ENTRIES,
  UNKNOWN_RULE,
} from '../rate-limit.messages.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import type { KeyCap } from '../runtime/config-codec.js';
import {
  MAX_KEY_CAPS,
  MAX_LIST_ENTRIES,
  RuntimeConfig,
} from '../runtime/runtime-config.service.js';
import { RateLimitStatusService } from '../stores/rate-limit-status.service.js';
import type { BreakerState } from '../stores/resilient.store.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { InspectQueryDto, KeyCapDto, PatchRuleDto } from './admin.dto.js';

/** A rule as the admin API shows it. @internal */
export interface RuleView {
  name: string;
  algorithm: RateLimitRule['algorithm'];
  limit: number;
  windowMs: number;
  mode: RateLimitRule['mode'];
  source: 'static' | 'override';
  tiers?: Record<string, number | 'exempt'>;
  /** A weighted rule's classes and their weights. */
  classes?: Record<string, number>;
}

/** A per-key cap as the admin API shows it, with the window in force. @internal */
interface KeyCapView {
  rule: string;
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * The admin API (README: Admin API). Bodies are validated against the bounds table boot-time
 * validation uses; nothing is written unless the whole request is valid. Inspect and reset go
 * through `RateLimiter`, so they read and forget exactly the budget requests spend, and answer
 * 503 rather than a fallback's numbers while Redis cannot answer. The routes' own rules never
 * apply (an operator raising a limit must not be throttled by it); failed authentications are
 * limited by `AdminTokenGuard`.
 * @internal
 */
@SkipRateLimit()
@UseGuards(AdminTokenGuard)
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }))
@Controller()
export class RateLimitAdminController {
  constructor(
    private readonly registry: RuleRegistry,
    private readonly runtime: RuntimeConfig,
    private readonly limiter: RateLimiter,
    private readonly metrics: RateLimitMetrics,
    private readonly status: RateLimitStatusService,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
    private readonly topKeys: TopKeys,
  ) {}

  @Get('rules')
  listRules(): RuleView[] {
    return this.registry.list().map(({ rule, source }) => ruleView(rule, source));
  }

  @Patch('rules/:name')
  async patchRule(@Param('name') name: string, @Body() body: PatchRuleDto): Promise<RuleView> {
    const rule = this.rule(name);
    const { limit, windowMs, mode, classes } = body;
    if (
      limit === undefined &&
      windowMs === undefined &&
      mode === undefined &&
      classes === undefined
    ) {
      throw new BadRequestException(EMPTY_PATCH);
    }
    if (limit !== undefined) checkCost(rule, limit);
    if (classes !== undefined) checkWeights(rule, classes);
    await this.persist(() => this.runtime.patchRule(name, { limit, windowMs, mode, classes }));
    return this.ruleView(name);
  }

  @Delete('rules/:name')
  @HttpCode(204)
  async dropOverride(@Param('name') name: string): Promise<void> {
    this.rule(name);
    await this.persist(() => this.runtime.dropRule(name));
  }

  @Get('rules/:name/overrides')
  listKeyCaps(@Param('name') name: string): KeyCapView[] {
    const rule = this.rule(name);
    return this.runtime.keyCaps(name).map(({ key, ...cap }) => capView(rule, key, cap));
  }

  @Put('rules/:name/overrides/:key')
  async putKeyCap(
    @Param('name') name: string,
    @Param('key') raw: string,
    @Body() body: KeyCapDto,
  ): Promise<KeyCapView> {
    const rule = this.rule(name);
    const key = this.identity(rule, raw);
    checkCost(rule, body.limit);
    if (!this.runtime.canAddKeyCap(name, key)) {
      throw new ConflictException(TOO_MANY_ENTRIES('overrides', MAX_KEY_CAPS));
    }
    const { limit, windowMs } = body;
    const cap: KeyCap = windowMs === undefined ? { limit } : { limit, windowMs };
    await this.persist(() => this.runtime.setKeyCap(name, key, cap));
    return capView(rule, key, cap);
  }

  @Delete('rules/:name/overrides/:key')
  @HttpCode(204)
  async dropKeyCap(@Param('name') name: string, @Param('key') raw: string): Promise<void> {
    const key = this.identity(this.rule(name), raw);
    await this.persist(() => this.runtime.dropKeyCap(name, key));
  }

  /**
   * What the key has left, by a look that charges nothing, from Redis only. `key` is echoed as
   * given; `tier` must be one of the rule's tiers.
   */
  @Get('rules/:name/keys/:key')
  async inspect(
    @Param('name') name: string,
    @Param('key') raw: string,
    @Query() query: InspectQueryDto,
  ): Promise<{ rule: string; key: string; limit: number; remaining: number; resetAt: number }> {
    const rule = this.rule(name);
    this.identity(rule, raw);
    checkTier(rule, query.tier);
    const look = await this.persist(() => this.limiter.peek(rule, raw, { tier: query.tier }));
    return {
      rule: name,
      key: raw,
      limit: look.limit,
      remaining: Math.max(0, look.remaining),
      resetAt: look.resetAtMs,
    };
  }

  /** Forgets the key's state: on Redis first, so a 503 means nothing was reset. */
  @Delete('rules/:name/keys/:key')
  @HttpCode(204)
  async resetKey(@Param('name') name: string, @Param('key') raw: string): Promise<void> {
    const rule = this.rule(name);
    this.identity(rule, raw);
    await this.persist(() => this.limiter.reset(rule, raw));
  }

  @Get('lists')
  lists(): Record<ListName, string[]> {
    return this.runtime.lists();
  }

  @Put('lists/:list/:id')
  async addToList(
    @Param('list') list: string,
    @Param('id') raw: string,
  ): Promise<{ list: ListName; id: string }> {
    const name = listName(list);
    const id = entry(raw);
    if (!this.runtime.canAddToList(name, id)) {
      throw new ConflictException(TOO_MANY_ENTRIES(`${name} list`, MAX_LIST_ENTRIES));
    }
    await this.persist(() => this.runtime.addToList(name, id));
    return { list: name, id };
  }

  @Delete('lists/:list/:id')
  @HttpCode(204)
  async removeFromList(@Param('list') list: string, @Param('id') raw: string): Promise<void> {
    const name = listName(list);
    const id = entry(raw);
    await this.persist(() => this.runtime.removeFromList(name, id));
  }

  /**
   * Counts of this instance (Prometheus sums the fleet) with its most throttled callers of the
   * last minute, where decisions are made, and whether changes are shared.
   */
  @Get('stats')
  async stats(): Promise<{
    rules: Record<string, RuleStats & { topKeys: TopKey[] }>;
    store: { mode: 'redis' | 'memory'; breaker: BreakerState };
    config: 'redis' | 'local';
  }> {
    const { store, breaker } = this.status.snapshot();
    const counts = Object.entries(await this.metrics.ruleStats());
    return {
      rules: Object.fromEntries(
        counts.map(([name, c]) => [name, { ...c, topKeys: this.topKeys.top(name) }]),
      ),
      store: { mode: store, breaker },
      config: this.runtime.shared ? 'redis' : 'local',
    };
  }

  private rule(name: string): RateLimitRule {
    const rule = this.registry.get(name);
    if (!rule) throw new NotFoundException(UNKNOWN_RULE(name));
    return rule;
  }

  private ruleView(name: string): RuleView {
    const entry = this.registry.list().find(({ rule }) => rule.name === name)!;
    return ruleView(entry.rule, entry.source);
  }

  private identity(rule: RateLimitRule, raw: string): string {
    try {
      return namedIdentity(rule, raw, this.options.ipv6Prefix);
    } catch (error) {
      throw new BadRequestException(`key ${(error as Error).message}`);
    }
  }

  /** Redis (or the store) failing becomes a 503 rather than a 500: the request was fine. */
  private async persist<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof HttpException) throw error;
      throw new ServiceUnavailableException(CONFIG_UNAVAILABLE, { cause: error });
    }
  }
}

function ruleView(rule: RateLimitRule, source: 'static' | 'override'): RuleView {
  const { name, algorithm, limit, windowMs, mode, tiers, classes } = rule;
  return {
    name,
    algorithm,
    limit,
    windowMs,
    mode,
    source,
    ...(tiers ? { tiers: { ...tiers } } : {}),
    ...(classes ? { classes: { ...classes } } : {}),
  };
}

function capView(rule: RateLimitRule, key: string, cap: KeyCap): KeyCapView {
  return { rule: rule.name, key, limit: cap.limit, windowMs: cap.windowMs ?? rule.windowMs };
}

/** A limit under the rule's fixed cost would never admit a request: refused as boot validation refuses it. */
function checkCost(rule: RateLimitRule, limit: number): void {
  if (typeof rule.cost === 'number' && rule.cost > limit) {
    throw new BadRequestException(LIMIT_BELOW_COST(rule.name, rule.cost));
  }
}

function entry(raw: string): string {
  try {
    return listEntry(raw);
  } catch (error) {
    throw new BadRequestException(`id ${(error as Error).message}`);
  }
}

function listName(list: string): ListName {
  if (list !== 'allow' && list !== 'block') {
    throw new NotFoundException(`No list named "${list}": use allow or block`);
  }
  return list;
}

/**
 * A tier named explicitly must be one of the rule's own tiers (the guard gives an unlisted tier
 * the rule's limit; an operator naming one has made a typo), and not an exempt one.
 */
function checkTier(rule: RateLimitRule, tier: string | undefined): void {
  if (tier === undefined) return;
  if (!hasTier(rule, tier)) {
    const known = Object.keys(rule.tiers ?? {});
    throw new BadRequestException(
      known.length > 0
        ? `tier must be one of ${known.join(', ')}`
        : `tier cannot be used: rule "${rule.name}" has no tiers`,
    );
  }
  if (rule.tiers![tier] === 'exempt') {
    throw new BadRequestException(
      `tier "${tier}" is exempt from rule "${rule.name}": nothing is tracked`,
    );
  }
}

/** New weights must name the rule's own classes, each a whole number from 1 to 1000. */
function checkWeights(rule: RateLimitRule, classes: Record<string, number>): void {
  if (!rule.classes) {
    throw new BadRequestException(
      `classes: rule "${rule.name}" has no classes (only weighted-token-bucket rules do)`,
    );
  }
  if (Object.keys(classes).length === 0)
    throw new BadRequestException('classes must name at least one class');
  for (const [cls, weight] of Object.entries(classes)) {
    if (!Object.hasOwn(rule.classes, cls)) {
      throw new BadRequestException(
        `classes.${cls}: rule "${rule.name}" has no class "${cls}" (it has ${Object.keys(rule.classes).join(', ')})`,
      );
    }
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 1000) {
      throw new BadRequestException(`classes.${cls} must be an integer between 1 and 1000`);
    }
  }
}
