export * from './rate-limit-config.error.js';
export * from './store-unavailable.error.js';
