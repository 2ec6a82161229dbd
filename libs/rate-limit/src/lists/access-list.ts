import { BlockList, isIP } from 'node:net';
import { formatIdentity, normalizeIp, parseIdentity } from '../core/identity/index.js';
import type { ClientInfo } from '../interfaces/index.js';

/** The two lists an operator keeps: `allow` bypasses every rule, `block` answers 403. @publicApi */
export type ListName = 'allow' | 'block';

/** Longest list entry accepted (characters); API keys are rarely a tenth of it. @internal */
export const MAX_ENTRY_LENGTH = 512;

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * `1.2.3.4` / `10.0.0.0/8` / `::1` as `{ address, bits? }`; `undefined` when the text does not
 * start with an address; a `RangeError` when it does but the prefix length cannot be one.
 */
function parseIpOrCidr(raw: string): { address: string; bits?: number } | undefined {
  const slash = raw.indexOf('/');
  const address = normalizeIp(slash < 0 ? raw : raw.slice(0, slash));
  const version = isIP(address);
  if (version === 0) return undefined;
  if (slash < 0) return { address };
  const bits = raw.slice(slash + 1);
  const max = version === 6 ? 128 : 32;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
    throw new RangeError(
      `"${raw}": a CIDR prefix length is 0 to ${max} (write key=${raw} for an API key)`,
    );
  }
  return { address, bits: Number(bits) };
}

/**
 * Why an API key can never arrive in `X-API-Key`, or `undefined`: HTTP strips the whitespace
 * around a header value and forbids control characters in it.
 */
function apiKeyProblem(key: string): string | undefined {
  if (key === '') return 'key= needs an API key after it';
  if (key !== key.trim()) return 'an API key cannot start or end with whitespace (HTTP strips it)';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(key)) return 'an API key cannot hold control characters';
  return undefined;
}

/**
 * Turns what an operator typed into a list entry, the way the guard names callers: an IP or a
 * CIDR becomes `ip=<address>[/<bits>]` (IPv4-mapped IPv6 normalized), anything else is an API key
 * `key=<value>`. `ip=` and `key=` may be written explicitly, e.g. `key=10.0.0.1` for an API key
 * that looks like an address. Entries that could never match a caller (a prefix length past the
 * address, a key HTTP cannot carry) are refused with the reason.
 * @internal
 */
export function listEntry(raw: string): string {
  if (raw === '' || raw.length > MAX_ENTRY_LENGTH) {
    throw new RangeError(`must be 1 to ${MAX_ENTRY_LENGTH} characters`);
  }
  const explicitKey = raw.startsWith('key=');
  const explicitIp = raw.startsWith('ip=');
  if (!explicitKey) {
    const ip = parseIpOrCidr(explicitIp ? raw.slice(3) : raw);
    if (ip)
      return formatIdentity([
        { source: 'ip', value: ip.bits === undefined ? ip.address : `${ip.address}/${ip.bits}` },
      ]);
    if (explicitIp) throw new RangeError(`"${raw.slice(3)}" is not an IP address or CIDR`);
  }
  const key = explicitKey ? raw.slice(4) : raw;
  const problem = apiKeyProblem(key);
  if (problem) throw new RangeError(problem);
  return formatIdentity([{ source: 'key', value: key }]);
}

/**
 * One list (entries as made by `listEntry`), matched against a caller by client IP (exact or
 * by subnet) and by API key.
 * @internal
 */
export class AccessList {
  private readonly exact = new Set<string>();
  private readonly subnets?: BlockList;

  constructor(readonly entries: readonly string[] = []) {
    let subnets: BlockList | undefined;
    for (const entry of entries) {
      const [part] = parseIdentity(entry) ?? [];
      const slash = part?.source === 'ip' ? part.value.indexOf('/') : -1;
      if (part?.source === 'ip' && slash > 0) {
        const address = part.value.slice(0, slash);
        subnets ??= new BlockList();
        subnets.addSubnet(address, Number(part.value.slice(slash + 1)), family(address));
      } else {
        this.exact.add(entry);
      }
    }
    this.subnets = subnets;
  }

  /** The caller's identity this list names (`ip=<client ip>` or `key=<api key>`), if any. */
  match(client: ClientInfo): string | undefined {
    if (this.entries.length === 0) return undefined;
    const ip = formatIdentity([{ source: 'ip', value: client.ip }]);
    if (this.exact.has(ip)) return ip;
    if (client.apiKey) {
      const key = formatIdentity([{ source: 'key', value: client.apiKey }]);
      if (this.exact.has(key)) return key;
    }
    if (this.subnets && isIP(client.ip) !== 0 && this.subnets.check(client.ip, family(client.ip)))
      return ip;
    return undefined;
  }
}
