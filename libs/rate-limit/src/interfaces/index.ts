export * from './rate-limit-rule.interface.js';
export * from './decision.interface.js';
export * from './rate-limit-module-options.interface.js';
