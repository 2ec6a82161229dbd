export { RateLimitAdminModule } from './admin/rate-limit-admin.module.js';
export type { RateLimitAdminOptions } from './admin/rate-limit-admin.module-definition.js';
