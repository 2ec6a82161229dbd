import { createHash } from 'node:crypto';
import { safeId, stateKey } from './redis-keys.js';

/** The part of a key Redis Cluster hashes: the first non-empty `{...}`, else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('safeId', () => {
  it('keeps a short identifier as it is', () => {
    expect(safeId('203.0.113.7')).toBe('203.0.113.7');
    expect(safeId('2001:db8::1')).toBe('2001:db8::1');
  });

  it('escapes braces, which would otherwise choose a cluster hash slot', () => {
    expect(safeId('{victim}')).toBe('%7Bvictim%7D');
    expect(safeId('a}b{c')).toBe('a%7Db%7Bc');
  });

  it('is injective: ids that used to share a key, or that mimic an escape or a hash, stay apart', () => {
    const long = 'x'.repeat(100);
    const hashed = safeId(long);
    const ids = ['{x}', '(x)', '%7Bx%7D', '%', '%25', '#', '%23', hashed, long];
    expect(new Set(ids.map(safeId)).size).toBe(ids.length);
    expect(safeId(hashed)).not.toBe(hashed);
  });

  it('keeps 64 bytes as they are and hashes anything longer', () => {
    const exactly64 = 'k'.repeat(64);
    const longer = 'k'.repeat(65);
    expect(safeId(exactly64)).toBe(exactly64);
    expect(safeId(longer)).toBe(`#${createHash('sha256').update(longer).digest('base64url')}`);
    expect(safeId(longer)).toHaveLength(44);
  });

  it('counts bytes, not characters', () => {
    // 22 characters, 66 bytes in UTF-8.
    expect(safeId('€'.repeat(22))).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    expect(safeId('€'.repeat(21))).toBe('€'.repeat(21));
  });

  it('hashes long identifiers apart, however alike, and the same one alike', () => {
    const base = 'x'.repeat(100);
    expect(safeId(`${base}1`)).not.toBe(safeId(`${base}2`));
    expect(safeId(`${base}{`)).not.toBe(safeId(`${base}(`));
  });
});

describe('stateKey', () => {
  it('keys each algorithm apart, so a rule whose algorithm changed starts fresh', () => {
    expect(stateKey('rl', 'public', 'fixed-window', 'a')).not.toBe(
      stateKey('rl', 'public', 'token-bucket', 'a'),
    );
  });

  it('is <prefix>:<rule>:{<identity>}', () => {
    expect(stateKey('rl', 'public', 'sliding-window-log', '203.0.113.7')).toBe(
      'rl:public:swl:{203.0.113.7}',
    );
  });

  it('hashes on the identity, so the rules of one request share a slot', () => {
    const keys = ['public', 'writes', 'writes-burst'].map((rule) =>
      stateKey('rl', rule, 'fixed-window', 'demo-pro'),
    );
    expect(keys.map(hashTag)).toEqual(['demo-pro', 'demo-pro', 'demo-pro']);
  });

  it('lets neither the identity nor the rule name choose the hash tag', () => {
    expect(hashTag(stateKey('rl', 'public', 'fixed-window', '{victim}'))).toBe('%7Bvictim%7D');
    expect(hashTag(stateKey('rl', 'public', 'fixed-window', '}{victim'))).toBe('%7D%7Bvictim');
    expect(hashTag(stateKey('rl', 'rule{victim}', 'fixed-window', 'alice'))).toBe('alice');
  });

  it('stays short for any identifier', () => {
    const key = stateKey('rl', 'public', 'fixed-window', 'k'.repeat(10_000));
    expect(key).toMatch(/^rl:public:fw:\{#[A-Za-z0-9_-]{43}\}$/);
    expect(hashTag(key)).toBe(safeId('k'.repeat(10_000)));
  });

  it('hashes a long rule name too', () => {
    expect(stateKey('rl', 'r'.repeat(65), 'token-bucket', 'alice')).toBe(
      `rl:${safeId('r'.repeat(65))}:tb:{alice}`,
    );
  });
});
