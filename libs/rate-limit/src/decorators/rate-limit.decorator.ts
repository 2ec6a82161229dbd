import { SetMetadata, applyDecorators } from '@nestjs/common';
import type { RuleInput } from '../interfaces/index.js';
import { RATE_LIMIT_RULES, SKIP_RATE_LIMIT } from '../rate-limit.constants.js';

/**
 * Limits a handler, or every handler of a controller. Several rules (in one call or in several
 * decorators) must all admit a request; it is then charged to all of them, else to none.
 * Handler rules add to class rules; a handler rule with a class rule's name replaces it.
 * @publicApi
 * @example
 * ```ts
 * @RateLimit({ algorithm: 'sliding-window-log', limit: 10, window: '1m', key: 'ip' })
 * @Get('public')
 * getPublic() {}
 * ```
 */
export function RateLimit(...rules: RuleInput[]): ClassDecorator & MethodDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const holder: object = descriptor ? descriptor.value : target;
    // Decorators apply bottom-up; prepend so rules read top-down in source order.
    const existing: RuleInput[] = Reflect.getMetadata(RATE_LIMIT_RULES, holder) ?? [];
    Reflect.defineMetadata(RATE_LIMIT_RULES, [...rules, ...existing], holder);
  };
}

/**
 * Exempts a handler or controller from every rule, including module-wide default rules.
 * @publicApi
 * @example
 * ```ts
 * @SkipRateLimit()
 * @Get('health')
 * health() {}
 * ```
 */
export const SkipRateLimit = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(SKIP_RATE_LIMIT, true));
