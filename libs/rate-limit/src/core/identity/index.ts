export * from './identity.js';
export * from './ip.js';
export * from './caller-identity.js';
export * from './named-identity.js';
