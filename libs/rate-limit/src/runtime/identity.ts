import { isIP } from 'node:net';
import type { RateLimitRule } from '../interfaces/index.js';
import { normalizeIp } from '../guard/client-identity.js';

/** Longest identity accepted from an operator (characters). @internal */
export const MAX_IDENTITY_LENGTH = 1024;

const EXPLICIT_PART = /^(?:ip|key|user|route)=|^global$/;

const normalizePart = (part: string) => (part.startsWith('ip=') ? `ip=${normalizeIp(part.slice(3))}` : part);

/**
 * Maps the key an operator names in the admin API to the identity the guard tracks under `rule`
 * (see `RateLimitGuard.getTracker`), so inspect, reset and per-key caps hit the same budget:
 *
 * - an identity written the guard's way (`ip=1.2.3.4`, `key=abc`, `user=42`, `global`, or a
 *   composite `ip=1.2.3.4|key=abc`) is taken as is, IPs normalized;
 * - a rule keyed by `global` has one identity, whatever is written;
 * - a rule keyed by a function: the raw value is that function's identity;
 * - a rule keyed by one source: `ip` needs an address; `api-key` and `user` take an address as
 *   the IP of a caller without a key or user (the guard's fallback), anything else as the key or
 *   user id; `route` takes `Controller.handler`.
 *
 * Throws with the reason when the raw value cannot name a caller of `rule`.
 * @internal
 */
export function ruleIdentity(rule: RateLimitRule, raw: string): string {
  if (raw === '' || raw.length > MAX_IDENTITY_LENGTH) {
    throw new Error(`must be 1 to ${MAX_IDENTITY_LENGTH} characters`);
  }
  if (typeof rule.key === 'function') return raw;
  const sources = Array.isArray(rule.key) ? rule.key : [rule.key];
  if (sources.length === 1 && sources[0] === 'global') return 'global';
  const parts = raw.split('|');
  if (parts.every((part) => EXPLICIT_PART.test(part))) return parts.map(normalizePart).join('|');
  if (sources.length > 1) {
    throw new Error(
      `rule "${rule.name}" is keyed by ${sources.join(' + ')}: write the key as the guard builds it, ` +
        `e.g. ip=203.0.113.7|key=my-api-key`,
    );
  }
  const ip = normalizeIp(raw);
  const isAddress = isIP(ip) !== 0;
  switch (sources[0]) {
    case 'ip':
      if (!isAddress) {
        throw new Error(`rule "${rule.name}" is keyed by client IP: "${raw}" is not an IP address`);
      }
      return `ip=${ip}`;
    case 'api-key':
      return isAddress ? `ip=${ip}` : `key=${raw}`;
    case 'user':
      return isAddress ? `ip=${ip}` : `user=${raw}`;
    default:
      return `route=${raw}`;
  }
}
