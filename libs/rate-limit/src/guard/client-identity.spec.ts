import { normalizeIp } from '../core/identity/index.js';
import { ClientIpResolver } from './client-identity.js';

describe('normalizeIp', () => {
  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['::1', '::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['::ffff:0:7f00:1', '::ffff:0:7f00:1'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['not-an-ip', 'not-an-ip'],
    ['', 'unknown'],
    [undefined, 'unknown'],
  ])('%j is %j', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });
});

describe('ClientIpResolver', () => {
  const SPOOFED = '6.6.6.6';

  describe('trustProxy false (the default)', () => {
    it.each([new ClientIpResolver(), new ClientIpResolver(false), new ClientIpResolver(0)])(
      'answers the socket address and ignores X-Forwarded-For',
      (resolver) => {
        expect(resolver.resolve('203.0.113.7', SPOOFED)).toBe('203.0.113.7');
        expect(resolver.resolve('::ffff:203.0.113.7', `${SPOOFED}, 10.0.0.1`)).toBe('203.0.113.7');
        expect(resolver.resolve('203.0.113.7', undefined)).toBe('203.0.113.7');
      },
    );
  });

  describe('trustProxy true', () => {
    const resolver = new ClientIpResolver(true);

    it('answers the leftmost X-Forwarded-For address', () => {
      expect(resolver.resolve('10.0.0.1', '203.0.113.7, 10.0.0.2')).toBe('203.0.113.7');
    });

    it('reads several X-Forwarded-For headers as one list, normalizing each address', () => {
      expect(resolver.resolve('10.0.0.1', ['::ffff:203.0.113.7', '10.0.0.2'])).toBe('203.0.113.7');
    });

    it('ends the walk at a hop that is not a bare address: the hop that handed it over is the client', () => {
      expect(resolver.resolve('10.0.0.1', '203.0.113.7, unknown, ,10.0.0.2')).toBe('10.0.0.2');
      expect(resolver.resolve('10.0.0.1', '6.6.6.6, 203.0.113.7')).toBe('6.6.6.6');
    });

    it.each([
      '1.2.3.4:5678',
      '[2001:db8::1]',
      '[2001:db8::1]:443',
      'fe80::1%eth0',
      'junk',
      '',
      '1.2.3.4 5.6.7.8',
    ])(
      'never takes %j from X-Forwarded-For as a client (each port or junk would be a fresh budget)',
      (hop) => {
        expect(resolver.resolve('10.0.0.1', `${hop}, 203.0.113.7`)).toBe('203.0.113.7');
        expect(resolver.resolve('10.0.0.1', hop)).toBe('10.0.0.1');
      },
    );

    it('answers the socket address without X-Forwarded-For', () => {
      expect(resolver.resolve('::ffff:10.0.0.1', undefined)).toBe('10.0.0.1');
    });
  });

  describe('trustProxy as a hop count', () => {
    // The client prepended a spoofed address; the two proxies appended what they saw.
    const header = `${SPOOFED}, 203.0.113.7, 10.0.0.2`;

    it.each([
      [1, '10.0.0.2'],
      [2, '203.0.113.7'],
      [3, SPOOFED],
      [10, SPOOFED],
    ])('trusting %d hop(s) answers %s', (hops, expected) => {
      expect(new ClientIpResolver(hops).resolve('10.0.0.1', header)).toBe(expected);
    });
  });

  describe('trustProxy as a list of addresses and CIDRs', () => {
    const resolver = new ClientIpResolver(['10.0.0.0/8', '192.0.2.1', 'fd00::/8']);

    it('answers the first untrusted address walking back from the socket', () => {
      expect(resolver.resolve('10.1.2.3', `${SPOOFED}, 203.0.113.7`)).toBe('203.0.113.7');
      expect(resolver.resolve('10.1.2.3', `${SPOOFED}, 203.0.113.7, 192.0.2.1, 10.9.9.9`)).toBe(
        '203.0.113.7',
      );
    });

    it('ignores X-Forwarded-For from a socket it does not trust', () => {
      expect(resolver.resolve('198.51.100.4', SPOOFED)).toBe('198.51.100.4');
    });

    it('trusts IPv6 ranges and IPv4-mapped sockets inside IPv4 ranges', () => {
      expect(resolver.resolve('fd12::1', '203.0.113.7')).toBe('203.0.113.7');
      expect(resolver.resolve('::ffff:10.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    });

    it('answers the leftmost address when every hop is trusted', () => {
      expect(resolver.resolve('10.0.0.1', '10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
    });

    it('stops at an entry that is not an address', () => {
      expect(resolver.resolve('10.0.0.1', `${SPOOFED}, not-an-ip`)).toBe('10.0.0.1');
    });

    it.each(['10.0.0.0/33', '::/129', '10.0.0.0/8/8'])('refuses the CIDR %s', (entry) => {
      expect(() => new ClientIpResolver([entry])).toThrow(
        `trustProxy: "${entry}" is not an IP address or CIDR`,
      );
    });

    it('refuses a list entry that is not an address or CIDR', () => {
      expect(() => new ClientIpResolver(['10.0.0.0/8', 'proxy.internal'])).toThrow(
        'trustProxy: "proxy.internal" is not an IP address or CIDR',
      );
    });
  });
});
