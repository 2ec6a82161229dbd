export * from './rate-limit-config.error.js';
export * from './store-unavailable.error.js';
export * from './rate-limit-exceeded.error.js';
