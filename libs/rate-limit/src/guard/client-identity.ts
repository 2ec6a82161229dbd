import { BlockList, isIP } from 'node:net';

/**
 * One spelling per address, so lists, caps and state keys match however a client or an admin
 * wrote it: IPv4-mapped IPv6 becomes IPv4 (`::ffff:127.0.0.1`, `::ffff:7f00:1` -> `127.0.0.1`),
 * other IPv6 is lower-cased and compressed (`2001:DB8:0::1` -> `2001:db8::1`). @internal
 */
export function normalizeIp(address: string | undefined): string {
  if (!address) return 'unknown';
  const trimmed = address.trim();
  if (isIP(trimmed) !== 6) return trimmed;
  let canonical: string;
  try {
    canonical = new URL(`http://[${trimmed}]`).hostname.slice(1, -1);
  } catch {
    // Zone ids (`fe80::1%eth0`) are not URL hosts: keep them as given.
    return trimmed;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export type TrustProxy = boolean | number | string[];

/**
 * Decides who the client is from the socket address and `X-Forwarded-For`, trusting the header
 * only as far as `trustProxy` says: walking from the socket towards the client, each address
 * that is trusted passes the question on to the one it forwarded for.
 * @internal
 */
export class ClientIpResolver {
  private readonly trusted?: BlockList;

  constructor(private readonly trustProxy: TrustProxy = false) {
    if (Array.isArray(trustProxy)) {
      this.trusted = new BlockList();
      for (const entry of trustProxy) {
        const [address, bits] = entry.split('/');
        const normal = normalizeIp(address);
        const family = isIP(normal) === 6 ? 'ipv6' : 'ipv4';
        if (isIP(normal) === 0) throw new Error(`trustProxy: "${entry}" is not an IP address or CIDR`);
        if (bits === undefined) this.trusted.addAddress(normal, family);
        else this.trusted.addSubnet(normal, Number(bits), family);
      }
    }
  }

  resolve(socketAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const socket = normalizeIp(socketAddress);
    if (this.trustProxy === false || this.trustProxy === 0 || forwardedFor === undefined) return socket;
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
    const hops = header
      .split(',')
      .map((part) => normalizeIp(part))
      .filter((part) => part !== '' && part !== 'unknown')
      .reverse();
    const chain = [socket, ...hops];
    for (let i = 0; i < chain.length - 1; i++) {
      if (!this.trusts(chain[i], i)) return chain[i];
    }
    return chain[chain.length - 1];
  }

  private trusts(address: string, hop: number): boolean {
    if (this.trustProxy === true) return true;
    if (typeof this.trustProxy === 'number') return hop < this.trustProxy;
    const family = isIP(address);
    if (family === 0 || !this.trusted) return false;
    return this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
