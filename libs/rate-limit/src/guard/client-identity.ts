import { BlockList, isIP } from 'node:net';

/** `::ffff:127.0.0.1` -> `127.0.0.1`; other addresses unchanged. @internal */
export function normalizeIp(address: string | undefined): string {
  if (!address) return 'unknown';
  const trimmed = address.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped ? mapped[1] : trimmed;
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
