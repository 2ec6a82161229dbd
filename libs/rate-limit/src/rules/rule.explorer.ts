import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { RuleInput } from '../interfaces/index.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { RateLimitConfigError } from '../errors/index.js';
import type { RateLimitRule } from '../interfaces/index.js';
import { RATE_LIMIT_RULES, RESOLVED_OPTIONS, SKIP_RATE_LIMIT } from '../rate-limit.constants.js';
import { INVALID_RULE, NOT_A_HANDLER } from '../rate-limit.messages.js';
import { RuleRegistry } from './rule-registry.service.js';
import { validateRule } from './rule.validator.js';

/** Whether a provider's class or one of its methods carries `@RateLimit` rules. */
function hasRules(wrapper: { metatype?: unknown; instance?: unknown }): boolean {
  const { metatype, instance } = wrapper;
  if (typeof metatype !== 'function' || !instance || typeof instance !== 'object') return false;
  if (Reflect.getMetadata(RATE_LIMIT_RULES, metatype)) return true;
  const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
  return Object.getOwnPropertyNames(prototype).some((name) => {
    const method = Object.getOwnPropertyDescriptor(prototype, name)?.value;
    return (
      typeof method === 'function' && Reflect.getMetadata(RATE_LIMIT_RULES, method) !== undefined
    );
  });
}

/**
 * Default names: `ApiController.getPublic`, then `ApiController.getPublic:2` for a second unnamed
 * rule (valid rule names; `:` never appears in a class or method name the default is built from).
 */
const nth = (base: string, i: number) => (i === 0 ? base : `${base}:${i + 1}`);

/**
 * Metadata the handler decorators of each NestJS context leave on a method: HTTP routes
 * (`@Get`...), microservice patterns (`@MessagePattern`, `@EventPattern`), WebSocket messages
 * (`@SubscribeMessage`) and GraphQL resolvers (`@Query`, `@Mutation`, `@Subscription`,
 * `@ResolveField`). Read by name so that none of those packages is loaded here.
 */
const HANDLER_METADATA = [
  'path',
  'microservices:pattern',
  'message',
  'graphql:resolver_type',
  'graphql:resolver_name',
];
const isHandler = (method: Function) =>
  HANDLER_METADATA.some((key) => Reflect.getMetadata(key, method) !== undefined);

/**
 * At boot, validates every `@RateLimit` rule of every controller, resolver and gateway and
 * records which rules guard which handler, so a bad rule stops the app naming the handler and
 * the field, and the guard does a map lookup per request. A `@RateLimit` on a method no guard
 * ever runs for (a plain provider method) would limit nothing: that is a boot error too.
 * @internal
 */
@Injectable()
export class RuleExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: RuleRegistry,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  private explored = false;

  /** Runs once; `documentRateLimits` may run it before the app is initialized. */
  onModuleInit(): void {
    if (this.explored) return;
    this.explored = true;
    const defaults = this.options.rules.map((input, i) =>
      validateRule(input, `RateLimitModule.rules[${i}]`, nth('default', i)),
    );
    for (const rule of defaults) this.registry.add(rule, 'RateLimitModule.rules');
    this.registry.setDefaults(defaults);
    const defaultNames = new Set(defaults.map((r) => r.name));

    const controllers = new Set(this.discovery.getControllers());
    // Resolvers and gateways are providers; only those carrying rules need binding.
    const limited = this.discovery.getProviders().filter((p) => !controllers.has(p) && hasRules(p));
    for (const wrapper of [...controllers, ...limited]) {
      const { metatype, instance } = wrapper;
      if (!metatype || !instance) continue;
      const isController = controllers.has(wrapper);
      const controller = metatype.name;
      const classSkip = Reflect.getMetadata(SKIP_RATE_LIMIT, metatype) === true;
      const classInputs: RuleInput[] = Reflect.getMetadata(RATE_LIMIT_RULES, metatype) ?? [];
      const classRules = classInputs.map((input, i) =>
        validateRule(input, controller, nth(controller, i)),
      );
      const prototype = Object.getPrototypeOf(instance);
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[method];
        const where = `${controller}.${method}`;
        const inputs: RuleInput[] = Reflect.getMetadata(RATE_LIMIT_RULES, handler) ?? [];
        const handlerRules = inputs.map((input, i) => validateRule(input, where, nth(where, i)));
        if (!isHandler(handler)) {
          if (inputs.length > 0) {
            throw new RateLimitConfigError(NOT_A_HANDLER(where), where, 'RateLimit');
          }
          if (!isController) continue;
        }
        if (classSkip || Reflect.getMetadata(SKIP_RATE_LIMIT, handler) === true) continue;
        const merged = new Map<string, (typeof handlerRules)[number]>();
        for (const rule of [...defaults, ...classRules, ...handlerRules])
          merged.set(rule.name, rule);
        const classNames = new Set(classRules.map((r) => r.name));
        for (const rule of classRules)
          this.registry.add(rule, controller, defaultNames.has(rule.name));
        for (const rule of handlerRules) {
          this.registry.add(rule, where, classNames.has(rule.name) || defaultNames.has(rule.name));
        }
        if (this.options.redis?.cluster) this.checkOneSlot(where, [...merged.values()]);
        this.registry.bindHandler(handler, [...merged.values()]);
      }
    }
  }

  /**
   * On Redis Cluster one script can only touch one slot, and a key's slot is its identity: the
   * rules of one handler must therefore share their `key`.
   */
  private checkOneSlot(where: string, rules: RateLimitRule[]): void {
    const keyOf = (rule: RateLimitRule) =>
      typeof rule.key === 'function' ? rule.key : JSON.stringify(rule.key);
    if (new Set(rules.map(keyOf)).size > 1) {
      const why =
        'must be the same for every rule of a handler on Redis Cluster (one atomic script, one slot)';
      throw new RateLimitConfigError(INVALID_RULE(where, 'key', why), where, 'key');
    }
  }
}
