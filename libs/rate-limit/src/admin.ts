// The admin API (class-validator, and prom-client for its stats): import this entry only where
// those are installed.
export { RateLimitAdminModule } from './admin/rate-limit-admin.module.js';
export type { RateLimitAdminOptions } from './admin/rate-limit-admin.module-definition.js';
export { RuntimeConfig, type ListHit } from './runtime/runtime-config.service.js';
export type { KeyCap } from './runtime/config-codec.js';
export type { ListName } from './lists/access-list.js';
export type { RuleOverride } from './rules/rule-registry.service.js';
export type { TopKey } from './metrics/top-keys.js';
