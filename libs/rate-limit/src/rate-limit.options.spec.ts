import type { ExecutionContext } from '@nestjs/common';
import { RateLimitConfigError } from './errors/index.js';
import { resolveOptions } from './rate-limit.options.js';

const ctx = {} as ExecutionContext;

describe('the user option', () => {
  it('reads req.user.id, then .sub, as a string; nothing, null or an empty id is no user', () => {
    const { userId, userFallback } = resolveOptions();
    expect(userFallback).toBe('ip');
    expect(userId({ user: { id: 42, sub: 'x' } }, ctx)).toBe('42');
    expect(userId({ user: { sub: 'auth0|7' } }, ctx)).toBe('auth0|7');
    for (const holder of [
      {},
      { user: null },
      { user: { id: '' } },
      { user: { id: null } },
      undefined,
    ]) {
      expect(userId(holder, ctx)).toBeUndefined();
    }
  });

  it('uses the configured reader, with the same normalization', () => {
    const { userId } = resolveOptions({ user: { id: (req: { tenant?: number }) => req.tenant } });
    expect(userId({ tenant: 7, user: { id: 'ignored' } }, ctx)).toBe('7');
    expect(userId({ user: { id: 'ignored' } }, ctx)).toBeUndefined();
  });

  it.each([
    [{ id: 'user.id' }, 'user.id'],
    [{ fallback: '401' }, 'user.fallback'],
  ])('refuses %j at boot', (user, field) => {
    expect(() => resolveOptions({ user: user as never })).toThrow(RateLimitConfigError);
    expect(() => resolveOptions({ user: user as never })).toThrow(`"${field}"`);
  });
});
