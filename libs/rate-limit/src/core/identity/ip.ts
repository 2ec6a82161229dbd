import { isIP } from 'node:net';

/**
 * One spelling per address, so lists, caps and state keys match however a client or an admin
 * wrote it: IPv4-mapped IPv6 becomes IPv4 (`::ffff:127.0.0.1`, `::ffff:7f00:1` -> `127.0.0.1`),
 * other IPv6 is lower-cased and compressed (`2001:DB8:0::1` -> `2001:db8::1`). Anything that is
 * not an address comes back trimmed; nothing comes back as `unknown`.
 * @internal
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

/**
 * A bare IPv4 or IPv6 address (no port, no brackets, no zone id), normalized; `undefined` for
 * anything else. What an `X-Forwarded-For` hop must be to be believed.
 * @internal
 */
export function parseBareIp(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed.includes('%') || isIP(trimmed) === 0) return undefined;
  return normalizeIp(trimmed);
}

/** The eight 16-bit groups of a normalized IPv6 address. */
function groups(address: string): number[] {
  const [head, tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

/**
 * The address a budget is kept for. IPv4 is its own budget. IPv6 is kept per network of
 * `ipv6Prefix` bits (`2001:db8:1:2::/64`), because one subscriber usually holds a whole /64 and
 * could otherwise pick a fresh budget for every request. Anything else is returned as is.
 * @internal
 */
export function ipBudgetKey(ip: string, ipv6Prefix: number): string {
  if (isIP(ip) !== 6 || ip.includes('%') || ipv6Prefix >= 128) return ip;
  const masked = groups(ip).map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - i * 16));
    return bits === 0 ? 0 : group & (0xffff << (16 - bits)) & 0xffff;
  });
  return `${normalizeIp(masked.map((g) => g.toString(16)).join(':'))}/${ipv6Prefix}`;
}
