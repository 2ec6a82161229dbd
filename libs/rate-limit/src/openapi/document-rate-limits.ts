import type { INestApplicationContext } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type {
  HeadersObject,
  OpenAPIObject,
  OperationObject,
  ReferenceObject,
  ResponseObject,
} from '@nestjs/swagger';
import type { HeaderStyle, RateLimitRule } from '../interfaces/index.js';
import { RESOLVED_OPTIONS, SKIP_RATE_LIMIT } from '../rate-limit.constants.js';
import type { ResolvedOptions } from '../rate-limit.options.js';
import { RuleRegistry } from '../rules/rule-registry.service.js';
import { RuleExplorer } from '../rules/rule.explorer.js';

/** Options of `documentRateLimits`. @publicApi */
export interface DocumentRateLimitsOptions {
  /** The `operationIdFactory` given to `SwaggerModule.createDocument`, when you gave one. */
  operationIdFactory?: (controllerKey: string, methodKey: string) => string;
}

/** Name of the 429 body's schema in `components.schemas`. @publicApi */
export const RATE_LIMIT_SCHEMA = 'RateLimitExceeded';

const integer = (description: string) => ({ description, schema: { type: 'integer' } });
const text = (description: string) => ({ description, schema: { type: 'string' } });

/** The rate-limit headers of an admitted response, per the module's `headers` style. */
function successHeaders(style: HeaderStyle): HeadersObject {
  const headers: HeadersObject = {};
  if (style === 'both' || style === 'legacy') {
    headers['X-RateLimit-Limit'] = integer(
      'Requests (or cost units) the binding rule admits per window',
    );
    headers['X-RateLimit-Remaining'] = integer('What is left of the binding rule in this window');
    headers['X-RateLimit-Reset'] = integer('When the binding rule resets (Unix time, seconds)');
  }
  if (style === 'both' || style === 'draft') {
    headers['RateLimit-Policy'] = text('Every rule of the route: "name";q=limit;w=window seconds');
    headers['RateLimit'] = text('Every rule of the route: "name";r=remaining;t=seconds to reset');
  }
  return headers;
}

const describeKey = (key: RateLimitRule['key']) =>
  typeof key === 'function' ? 'custom' : Array.isArray(key) ? key.join('+') : key;

const ruleLine = (r: RateLimitRule) =>
  `"${r.name}" (${r.algorithm}, ${r.limit} per ${r.windowMs / 1000} s, by ${describeKey(r.key)})`;

/**
 * Documents rate limits in an OpenAPI document made by `SwaggerModule.createDocument`: every
 * operation of a limited route gains the 429 response (body `RateLimitExceeded`, `Retry-After`
 * header), the rate-limit headers on its 2xx responses, and an `x-rate-limit` extension listing
 * its rules. Call it with the same app; it changes and returns `document`.
 * @publicApi
 * @example
 * ```ts
 * const document = documentRateLimits(SwaggerModule.createDocument(app, config), app);
 * SwaggerModule.setup('docs', app, document);
 * ```
 */
export function documentRateLimits(
  document: OpenAPIObject,
  app: INestApplicationContext,
  options: DocumentRateLimitsOptions = {},
): OpenAPIObject {
  // Rules are bound at module init; the document is usually made before that.
  app.get(RuleExplorer, { strict: false }).onModuleInit();
  const registry = app.get(RuleRegistry, { strict: false });
  const { headers: style } = app.get<ResolvedOptions>(RESOLVED_OPTIONS, { strict: false });
  const scanner = app.get(MetadataScanner, { strict: false });
  const operationId =
    options.operationIdFactory ??
    ((controller: string, method: string) => `${controller}_${method}`);

  const limited = new Map<string, RateLimitRule[]>();
  for (const { metatype, instance } of app
    .get(DiscoveryService, { strict: false })
    .getControllers()) {
    if (!metatype || !instance || Reflect.getMetadata(SKIP_RATE_LIMIT, metatype) === true) continue;
    const prototype = Object.getPrototypeOf(instance);
    for (const method of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[method];
      if (Reflect.getMetadata(SKIP_RATE_LIMIT, handler) === true) continue;
      const rules = registry.rulesFor(handler);
      if (rules.length > 0) limited.set(operationId(metatype.name, method), rules);
    }
  }

  document.components ??= {};
  document.components.schemas ??= {};
  document.components.schemas[RATE_LIMIT_SCHEMA] = {
    type: 'object',
    required: ['statusCode', 'error', 'message', 'rule', 'retryAfter'],
    properties: {
      statusCode: { type: 'integer', enum: [429] },
      error: { type: 'string', example: 'Too Many Requests' },
      message: { type: 'string', example: 'Rate limit exceeded for rule "search"' },
      rule: { type: 'string', description: 'The rule that denied the request', example: 'search' },
      retryAfter: { type: 'integer', description: 'Seconds until a retry can be admitted' },
    },
  };
  const admitted = successHeaders(style);
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path as object) as unknown[]) {
      const op = operation as OperationObject;
      if (typeof op?.operationId !== 'string' || !op.responses) continue;
      // Versioned routes and `@All` add a suffix to the operation id.
      const id = [...limited.keys()].find(
        (k) => op.operationId === k || op.operationId!.startsWith(`${k}_`),
      );
      if (id === undefined) continue;
      const rules = limited.get(id)!;
      for (const [status, response] of Object.entries(op.responses)) {
        if (/^2\d\d$/.test(status) && !('$ref' in (response as ReferenceObject))) {
          const res = response as ResponseObject;
          res.headers = { ...admitted, ...res.headers };
        }
      }
      op.responses['429'] = {
        description: `Too many requests: denied by ${rules.map(ruleLine).join(', ')}`,
        headers: {
          'Retry-After': integer('Seconds until a retry can be admitted'),
          ...admitted,
        },
        content: {
          'application/json': { schema: { $ref: `#/components/schemas/${RATE_LIMIT_SCHEMA}` } },
        },
      };
      (op as OperationObject & Record<string, unknown>)['x-rate-limit'] = rules.map((r) => ({
        name: r.name,
        algorithm: r.algorithm,
        limit: r.limit,
        windowSeconds: r.windowMs / 1000,
        key: describeKey(r.key),
        mode: r.mode,
      }));
    }
  }
  return document;
}
