import { BlockList, isIP } from 'node:net';
import type { ClientInfo } from '../interfaces/index.js';
import { normalizeIp } from '../guard/client-identity.js';

/** The two lists an operator keeps: `allow` bypasses every rule, `block` answers 403. @publicApi */
export type ListName = 'allow' | 'block';

/** Longest list entry accepted (characters); API keys are rarely a tenth of it. @internal */
export const MAX_ENTRY_LENGTH = 512;

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** `1.2.3.4` / `10.0.0.0/8` / `::1` as `{ address, bits? }`, or `undefined` when not an IP or CIDR. */
function parseIpOrCidr(raw: string): { address: string; bits?: number } | undefined {
  const slash = raw.indexOf('/');
  const address = normalizeIp(slash < 0 ? raw : raw.slice(0, slash));
  const version = isIP(address);
  if (version === 0) return undefined;
  if (slash < 0) return { address };
  const bits = raw.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > (version === 6 ? 128 : 32)) return undefined;
  return { address, bits: Number(bits) };
}

/**
 * Turns what an operator typed into a list entry, the way the guard names callers: an IP or a
 * CIDR becomes `ip=<address>[/<bits>]` (IPv4-mapped IPv6 normalized), anything else is an API key
 * `key=<value>`. `ip=` and `key=` may be written explicitly, e.g. `key=10.0.0.1` for an API key
 * that looks like an address. Throws with the reason when the entry is unusable.
 * @internal
 */
export function listEntry(raw: string): string {
  if (raw === '' || raw.length > MAX_ENTRY_LENGTH) {
    throw new Error(`must be 1 to ${MAX_ENTRY_LENGTH} characters`);
  }
  if (raw.startsWith('key=')) {
    if (raw.length === 4) throw new Error('key= needs an API key after it');
    return raw;
  }
  const explicitIp = raw.startsWith('ip=');
  const ip = parseIpOrCidr(explicitIp ? raw.slice(3) : raw);
  if (ip) return ip.bits === undefined ? `ip=${ip.address}` : `ip=${ip.address}/${ip.bits}`;
  if (explicitIp) throw new Error(`"${raw.slice(3)}" is not an IP address or CIDR`);
  return `key=${raw}`;
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
      const ip = entry.startsWith('ip=') ? parseIpOrCidr(entry.slice(3)) : undefined;
      if (ip?.bits !== undefined) {
        subnets ??= new BlockList();
        subnets.addSubnet(ip.address, ip.bits, family(ip.address));
      } else {
        this.exact.add(entry);
      }
    }
    this.subnets = subnets;
  }

  /** The caller's identity this list names (`ip=<client ip>` or `key=<api key>`), if any. */
  match(client: ClientInfo): string | undefined {
    if (this.entries.length === 0) return undefined;
    const ip = `ip=${client.ip}`;
    if (this.exact.has(ip)) return ip;
    if (client.apiKey !== undefined && this.exact.has(`key=${client.apiKey}`)) return `key=${client.apiKey}`;
    if (this.subnets && isIP(client.ip) !== 0 && this.subnets.check(client.ip, family(client.ip))) return ip;
    return undefined;
  }
}
