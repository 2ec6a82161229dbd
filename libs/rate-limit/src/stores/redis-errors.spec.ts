import { classifyRedisError, isOutOfMemory } from './redis-errors.js';

/** What ioredis raises for an error reply of the server. */
const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('classifyRedisError', () => {
  it.each([
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'ERR user_script:12: weighted-token-bucket: unknown class nil',
    'NOSCRIPT No matching script',
    'MOVED 3999 127.0.0.1:6381',
  ])("treats %j as that call's problem", (message) => {
    expect(classifyRedisError(reply(message))).toBe('command');
  });

  it("treats a slot that kept redirecting as that slot's problem", () => {
    expect(
      classifyRedisError(new Error('Too many Cluster redirections. Last error: Error: ASK 12 x')),
    ).toBe('command');
  });

  it.each([
    "OOM command not allowed when used memory > 'maxmemory'.",
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script',
    "READONLY You can't write against a read only replica.",
    'CLUSTERDOWN The cluster is down',
    'NOAUTH Authentication required.',
  ])('treats %j as an outage', (message) => {
    expect(classifyRedisError(reply(message))).toBe('outage');
  });

  it('treats connection failures and timeouts as outages', () => {
    expect(classifyRedisError(new Error('Connection is closed.'))).toBe('outage');
    expect(classifyRedisError('not even an error')).toBe('outage');
  });

  it('recognizes a Redis out of memory', () => {
    expect(isOutOfMemory(reply("OOM command not allowed when used memory > 'maxmemory'."))).toBe(
      true,
    );
    expect(isOutOfMemory(reply('ERR other'))).toBe(false);
  });
});
