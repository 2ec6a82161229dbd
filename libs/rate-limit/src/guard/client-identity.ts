import { BlockList, isIP } from 'node:net';
import { normalizeIp, parseBareIp } from '../core/identity/index.js';

export type TrustProxy = boolean | number | readonly string[];

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * Decides who the client is from the socket address and `X-Forwarded-For`, trusting the header
 * only as far as `trustProxy` says: walking from the socket towards the client, each address
 * that is trusted passes the question on to the one it forwarded for. A hop that is not a bare
 * IPv4 or IPv6 address (a port, brackets, `unknown`, an empty entry, junk) ends the walk: the
 * address that handed it over is the client, so nothing a client writes into the header can
 * become an identity of its own.
 * @internal
 */
export class ClientIpResolver {
  private readonly trusted?: BlockList;

  constructor(private readonly trustProxy: TrustProxy = false) {
    if (Array.isArray(trustProxy)) {
      this.trusted = new BlockList();
      for (const entry of trustProxy) {
        const [address, bits, extra] = entry.split('/');
        const normal = parseBareIp(address);
        const max = normal !== undefined && isIP(normal) === 6 ? 128 : 32;
        const badBits = bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max);
        if (normal === undefined || badBits || extra !== undefined) {
          throw new Error(`trustProxy: "${entry}" is not an IP address or CIDR`);
        }
        if (bits === undefined) this.trusted.addAddress(normal, family(normal));
        else this.trusted.addSubnet(normal, Number(bits), family(normal));
      }
    }
  }

  resolve(socketAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const socket = normalizeIp(socketAddress);
    if (this.trustProxy === false || this.trustProxy === 0 || forwardedFor === undefined)
      return socket;
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
    const hops = header.split(',').reverse();
    let client = socket;
    for (let i = 0; i < hops.length; i++) {
      if (!this.trusts(client, i)) return client;
      const next = parseBareIp(hops[i]);
      if (next === undefined) return client;
      client = next;
    }
    return client;
  }

  private trusts(address: string, hop: number): boolean {
    if (this.trustProxy === true) return true;
    if (typeof this.trustProxy === 'number') return hop < this.trustProxy;
    if (isIP(address) === 0 || !this.trusted) return false;
    return this.trusted.check(address, family(address));
  }
}
