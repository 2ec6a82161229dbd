export * from './rate-limit.decorator.js';
