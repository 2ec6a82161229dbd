import type { KeyBy, KeySource } from '../../interfaces/index.js';
import { formatIdentity, type IdentityPart } from './identity.js';
import { ipBudgetKey } from './ip.js';

/** What the built-in key sources read about a caller. @internal */
export interface Caller {
  /** Client IP, normalized (see `normalizeIp`). */
  ip: string;
  apiKey?: string;
  /** `req.user.id` (or `.sub`) as a string. */
  user?: string;
  /** `Controller.handler`. */
  route?: string;
}

const ipPart = (caller: Caller, ipv6Prefix: number): IdentityPart => ({
  source: 'ip',
  value: ipBudgetKey(caller.ip, ipv6Prefix),
});

/** The one part a key source contributes for `caller`. */
function partFor(source: KeySource, caller: Caller, ipv6Prefix: number): IdentityPart {
  switch (source) {
    case 'ip':
      return ipPart(caller, ipv6Prefix);
    // A caller without an API key or user falls back to its IP: keyless callers never share one budget.
    case 'api-key':
      return caller.apiKey ? { source: 'key', value: caller.apiKey } : ipPart(caller, ipv6Prefix);
    case 'user':
      return caller.user ? { source: 'user', value: caller.user } : ipPart(caller, ipv6Prefix);
    case 'route':
      return { source: 'route', value: caller.route ?? 'unknown' };
    case 'global':
      return { source: 'global' };
  }
}

/**
 * The identity whose budget `caller` spends under a rule keyed by built-in sources, e.g.
 * `ip=203.0.113.7`, `key=abc|ip=2001:db8:1:2::/64`.
 * @internal
 */
export function callerIdentity(
  sources: KeySource | readonly KeySource[],
  caller: Caller,
  ipv6Prefix: number,
): string {
  if (typeof sources === 'string') return formatIdentity([partFor(sources, caller, ipv6Prefix)]);
  return formatIdentity(sources.map((source) => partFor(source, caller, ipv6Prefix)));
}

/** Whether a rule's key reads the `user` source (alone or in a composite key). @internal */
export function keyedByUser(key: KeyBy): boolean {
  return key === 'user' || (Array.isArray(key) && key.includes('user'));
}
