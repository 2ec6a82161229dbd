import { AccessList, listEntry } from './access-list.js';

describe('listEntry', () => {
  it.each([
    ['203.0.113.7', 'ip=203.0.113.7'],
    ['::ffff:203.0.113.7', 'ip=203.0.113.7'],
    ['ip=203.0.113.7', 'ip=203.0.113.7'],
    ['2001:db8::1', 'ip=2001:db8::1'],
    ['2001:DB8:0:0::1', 'ip=2001:db8::1'],
    ['10.0.0.0/8', 'ip=10.0.0.0/8'],
    ['ip=2001:db8::/32', 'ip=2001:db8::/32'],
    ['my-api-key', 'key=my-api-key'],
    ['key=10.0.0.1', 'key=10.0.0.1'],
    ['key=10.0.0.0/33', 'key=10.0.0.0/33'],
    ['ключ', 'key=ключ'],
    ['50%|off', 'key=50%25%7Coff'],
  ])('%s -> %s', (raw, entry) => {
    expect(listEntry(raw)).toBe(entry);
  });

  it.each([
    ['', /1 to 512 characters/],
    ['x'.repeat(513), /1 to 512 characters/],
    ['key=', /needs an API key/],
    ['ip=999.1.2.3', /not an IP address or CIDR/],
    ['ip=10.0.0.0/40', /prefix length is 0 to 32/],
    // These used to be stored as API keys no request could ever carry.
    ['1.2.3.4/33', /prefix length is 0 to 32/],
    ['2001:db8::/129', /prefix length is 0 to 128/],
    [' padded', /whitespace/],
    ['key=tab\nnewline', /control characters/],
  ])('refuses %j', (raw, why) => {
    expect(() => listEntry(raw)).toThrow(why);
  });
});

describe('AccessList', () => {
  const list = new AccessList([
    'ip=203.0.113.7',
    'key=bad',
    'ip=198.51.100.0/24',
    'ip=2001:db8::/32',
  ]);

  it('matches a client by exact IP, by API key and by subnet, naming the identity that matched', () => {
    expect(list.match({ ip: '203.0.113.7' })).toBe('ip=203.0.113.7');
    expect(list.match({ ip: '203.0.113.8', apiKey: 'bad' })).toBe('key=bad');
    expect(list.match({ ip: '198.51.100.200' })).toBe('ip=198.51.100.200');
    expect(list.match({ ip: '2001:db8:1::5' })).toBe('ip=2001:db8:1::5');
  });

  it('matches an IPv6 entry however the admin spelled it', () => {
    const written = new AccessList([listEntry('2001:DB8:0:0::1')]);
    expect(written.match({ ip: '2001:db8::1' })).toBe('ip=2001:db8::1');
  });

  it('matches an API key holding the escape characters as the entry written for it', () => {
    expect(
      new AccessList([listEntry('50%|off')]).match({ ip: '192.0.2.1', apiKey: '50%|off' }),
    ).toBe('key=50%25%7Coff');
  });

  it('matches nothing else', () => {
    expect(list.match({ ip: '203.0.113.8', apiKey: 'good' })).toBeUndefined();
    expect(list.match({ ip: '198.51.101.1' })).toBeUndefined();
    expect(list.match({ ip: 'unknown' })).toBeUndefined();
    expect(new AccessList().match({ ip: '203.0.113.7' })).toBeUndefined();
  });
});
