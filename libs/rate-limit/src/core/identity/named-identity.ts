import { isIP } from 'node:net';
import type { RateLimitRule } from '../../interfaces/index.js';
import { formatIdentity, type IdentityPart, parseIdentity } from './identity.js';
import { ipBudgetKey, normalizeIp } from './ip.js';

/** Longest key accepted from an operator or a worker (characters). @internal */
export const MAX_IDENTITY_LENGTH = 1024;

/** An address (or the network form `ipBudgetKey` writes) as the budget key it names. */
function ipValue(raw: string, ipv6Prefix: number): string | undefined {
  const slash = raw.indexOf('/');
  const address = normalizeIp(slash < 0 ? raw : raw.slice(0, slash));
  if (isIP(address) === 0) return undefined;
  const budget = ipBudgetKey(address, ipv6Prefix);
  // The network form is accepted only as the guard writes it: the configured prefix, host bits zero.
  if (slash >= 0 && budget !== `${address}/${raw.slice(slash + 1)}`) return undefined;
  return budget;
}

/**
 * Maps a key as an operator or a worker names it to the identity the guard tracks under `rule`,
 * so inspect, reset, per-key caps and `RateLimiter` calls spend or show the same budget as HTTP
 * requests of that caller:
 *
 * - an identity written out (`ip=1.2.3.4`, `key=abc`, `user=42`, `global`, or a composite
 *   `ip=1.2.3.4|key=abc`) is taken as is, IPs normalized;
 * - a rule keyed by `global` has one identity, whatever is written;
 * - a rule keyed by a function: the value is that function's identity;
 * - a rule keyed by one source: `ip` needs an address; `api-key` and `user` take an address as
 *   the IP of a caller without a key or user (the guard's fallback), anything else as the key or
 *   user id; `route` takes `Controller.handler`.
 *
 * IPv6 addresses name the network of `ipv6Prefix` bits, as the guard keys them.
 * Throws with the reason when `raw` cannot name a caller of `rule`.
 * @internal
 */
export function namedIdentity(rule: RateLimitRule, raw: string, ipv6Prefix: number): string {
  if (typeof raw !== 'string' || raw === '' || raw.length > MAX_IDENTITY_LENGTH) {
    throw new RangeError(`must be 1 to ${MAX_IDENTITY_LENGTH} characters`);
  }
  if (typeof rule.key === 'function') return raw;
  const sources = typeof rule.key === 'string' ? [rule.key] : rule.key;
  if (sources.length === 1 && sources[0] === 'global') return 'global';
  if (/^(?:ip|key|user|route)=|^global(?:\||$)/.test(raw)) {
    const parts = parseIdentity(raw);
    if (!parts) {
      throw new RangeError(
        'is not an identity: parts are source=value joined by |, with % written %25 and | written %7C',
      );
    }
    return formatIdentity(
      parts.map((part): IdentityPart => {
        if (part.source !== 'ip') return part;
        const value = ipValue(part.value, ipv6Prefix);
        if (value === undefined) throw new RangeError(`"${part.value}" is not an IP address`);
        return { source: 'ip', value };
      }),
    );
  }
  if (sources.length > 1) {
    throw new RangeError(
      `rule "${rule.name}" is keyed by ${sources.join(' + ')}: write the key as the guard builds it, ` +
        `e.g. ip=203.0.113.7|key=my-api-key`,
    );
  }
  const ip = ipValue(raw, ipv6Prefix);
  switch (sources[0]) {
    case 'ip':
      if (ip === undefined)
        throw new RangeError(
          `rule "${rule.name}" is keyed by client IP: "${raw}" is not an IP address`,
        );
      return formatIdentity([{ source: 'ip', value: ip }]);
    case 'api-key':
      return formatIdentity([
        ip !== undefined ? { source: 'ip', value: ip } : { source: 'key', value: raw },
      ]);
    case 'user':
      return formatIdentity([
        ip !== undefined ? { source: 'ip', value: ip } : { source: 'user', value: raw },
      ]);
    default:
      return formatIdentity([{ source: 'route', value: raw }]);
  }
}
