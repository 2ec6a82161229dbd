import {
  capField,
  decodeKeyCaps,
  decodeLists,
  decodeRuleOverrides,
  encodeKeyCap,
  encodeRulePatch,
  listField,
  ruleFields,
} from './config-codec.js';

describe('config codec', () => {
  it('stores a rule patch one field per property, so patches merge by HSET', () => {
    expect(encodeRulePatch('Api.get#2', { limit: 5, mode: 'dry-run' })).toEqual({
      'Api.get#2:limit': '5',
      'Api.get#2:mode': 'dry-run',
    });
    expect(ruleFields('a:b')).toEqual(['a:b:limit', 'a:b:windowMs', 'a:b:mode', 'a:b:classes']);
    expect(encodeRulePatch('s', { classes: { low: 2 } })).toEqual({ 's:classes': '{"low":2}' });
    const weights: string[] = [];
    expect([
      ...decodeRuleOverrides(
        { 's:classes': '{"low":2}', 't:classes': '{"low":0}', 'u:classes': '[' },
        (f) => weights.push(f),
      ),
    ]).toEqual([['s', { classes: { low: 2 } }]]);
    expect(weights).toEqual(['t:classes', 'u:classes']);
    const invalid: string[] = [];
    const decoded = decodeRuleOverrides(
      { 'a:b:limit': '5', 'a:b:mode': 'dry-run', 'c:windowMs': '1000' },
      (f) => invalid.push(f),
    );
    expect([...decoded]).toEqual([
      ['a:b', { limit: 5, mode: 'dry-run' }],
      ['c', { windowMs: 1000 }],
    ]);
    expect(invalid).toEqual([]);
  });

  it('leaves out and reports values the admin API would refuse', () => {
    const invalid: string[] = [];
    const fields = {
      'a:limit': '0',
      'a:windowMs': '1.5',
      'a:mode': 'off',
      'a:cost': '1',
      limit: '5',
      'b:limit': '3',
    };
    expect([...decodeRuleOverrides(fields, (f) => invalid.push(f))]).toEqual([['b', { limit: 3 }]]);
    expect(invalid).toEqual(['a:limit', 'a:windowMs', 'a:mode', 'a:cost', 'limit']);
  });

  it('round-trips per-key caps and refuses broken ones', () => {
    const invalid: string[] = [];
    const fields = {
      [capField('public', 'ip=203.0.113.7')]: encodeKeyCap({ limit: 2 }),
      [capField('premium', 'key=a b')]: encodeKeyCap({ limit: 5, windowMs: 1000 }),
      [capField('public', 'ip=1.1.1.1')]: '{"limit":0}',
      [capField('public', 'ip=2.2.2.2')]: 'not json',
    };
    expect([...decodeKeyCaps(fields, (f) => invalid.push(f))]).toEqual([
      ['public ip=203.0.113.7', { limit: 2 }],
      ['premium key=a b', { limit: 5, windowMs: 1000 }],
    ]);
    expect(invalid).toEqual(['public ip=1.1.1.1', 'public ip=2.2.2.2']);
  });

  it('splits list fields into sorted lists', () => {
    const fields = {
      [listField('block', 'key=z')]: '1',
      [listField('block', 'ip=1.1.1.1')]: '1',
      [listField('allow', 'key=a b')]: '1',
    };
    expect(decodeLists(fields)).toEqual({ allow: ['key=a b'], block: ['ip=1.1.1.1', 'key=z'] });
  });
});
