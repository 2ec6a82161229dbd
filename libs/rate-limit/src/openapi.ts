// OpenAPI documentation of rate limits for @nestjs/swagger: import this entry only where swagger is installed.
export {
  documentRateLimits,
  type DocumentRateLimitsOptions,
  RATE_LIMIT_SCHEMA,
} from './openapi/document-rate-limits.js';
