/** @internal Message factories: one place for the text users read. */
export const INVALID_RULE = (where: string, field: string, why: string) =>
  `Invalid rate-limit rule on ${where}: "${field}" ${why}`;

export const NOT_A_HANDLER = (where: string) =>
  `${where} has @RateLimit but is not a handler the rate-limit guard runs for (an HTTP route, a ` +
  `GraphQL resolver, a WebSocket message handler or a microservice pattern); limit it with ` +
  `RateLimiter.consume instead`;

export const DUPLICATE_RULE = (name: string, first: string, second: string) =>
  `Rate-limit rule name "${name}" is used by ${first} and ${second} with different settings; rule names must be unique`;

export const INVALID_OPTION = (field: string, why: string) =>
  `Invalid RateLimitModule option "${field}": ${why}`;

export const LUA_NOT_FOUND = (searched: string[]) =>
  `Cannot find lua/consume.lua; searched: ${searched.join(', ')}. Set the "luaDir" option.`;

export const RATE_LIMITED = (rule: string) => `Rate limit exceeded for rule "${rule}"`;

export const COST_ABOVE_LIMIT = (rule: string, cost: number, limit: number) =>
  `Rate limit rule "${rule}" can never admit this request: its cost ${cost} exceeds the limit ${limit}`;

export const STORE_UNAVAILABLE = 'Rate limiting is unavailable; try again later';

export const CLIENT_BLOCKED = 'This client is blocked';

export const USER_REQUIRED = (rule: string) =>
  `Rate-limit rule "${rule}" is keyed by user and this request has no authenticated user`;

export const CONFIG_LOCAL =
  'No Redis configured: runtime rate-limit changes (rule overrides, per-key caps, lists) apply to this instance only';

export const CONFIG_SYNC_FAILED = (error: unknown) =>
  `Cannot read the runtime rate-limit configuration from Redis; keeping the last one read and retrying every second: ${String(error)}`;

export const CONFIG_VALUE_IGNORED = (concern: string, field: string) =>
  `Ignoring an unusable runtime rate-limit setting in the "${concern}" hash: field "${field}"`;

export const CONFIG_UNAVAILABLE =
  'Redis did not answer: the change may not have been applied; try again';

export const ADMIN_UNAUTHORIZED = 'Missing or invalid bearer token';

export const UNKNOWN_RULE = (name: string) => `No rate-limit rule named "${name}"`;

export const EMPTY_PATCH = 'body must set at least one of limit, windowMs, mode, classes';

export const LIMIT_BELOW_COST = (rule: string, cost: number) =>
  `limit must be at least the cost of one request of rule "${rule}" (${cost})`;

export const TOO_MANY_ENTRIES = (what: string, max: number) =>
  `${what} holds the maximum of ${max} entries; remove some first`;

export const REDIS_UNREACHABLE_AT_START = (mode: string) =>
  `Redis is not reachable yet: deciding by the "${mode}" failure mode until it answers`;

export const REDIS_CIRCUIT_OPEN = (mode: string) =>
  `Redis is failing: circuit breaker open, deciding by the "${mode}" failure mode until Redis answers again`;

export const REDIS_COMMAND_FAILED = (keys: string, mode: string, cause: unknown) =>
  `Redis refused the decision of ${keys} (${String(cause)}): that key's requests are decided by the "${mode}" failure mode; other keys stay on Redis. Logged once per key.`;

export const REDIS_OUT_OF_MEMORY = (mode: string) =>
  `Redis is out of memory (maxmemory reached and nothing can be evicted): deciding by the "${mode}" failure mode until it has room. Give Redis more memory or an eviction policy that spares the limiter's keys (see the README).`;

export const REDIS_BACK = 'Redis answers again: decisions are back on Redis';

export const STORE_LISTENER_FAILED = (event: string, error: unknown) =>
  `A listener of the rate-limit store's "${event}" event threw (ignored): ${String(error)}`;

export const REDIS_PING_TIMEOUT = (ms: number) => `Redis did not answer PING within ${ms} ms`;

export const INVALID_COST = (rule: string, why: string) =>
  `Rate-limit rule "${rule}": the cost of this request ${why}; the request is denied and nothing is charged`;

export const COST_INVALID_DENIED = (rule: string) =>
  `Rate limit rule "${rule}" cannot price this request; it is denied`;

export const ADMIN_TOO_MANY_FAILURES = 'Too many failed admin authentications; try again later';

export const INVALID_ADMIN_TOKEN = (min: number) =>
  `Invalid RateLimitAdminModule option "token": must be at least ${min} characters with no whitespace (or unset to disable the admin API)`;

export const CLIENT_GONE_WHILE_DELAYED =
  'The client went away while its request was held for its slot';

export const REFUND_FAILED = (error: unknown) =>
  `Could not refund a charge (the outcome did not count, or a held request was given up): ${String(error)}`;
