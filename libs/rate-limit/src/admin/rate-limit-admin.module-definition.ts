import { ConfigurableModuleBuilder } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { RateLimitConfigError } from '../errors/index.js';
import { INVALID_ADMIN_TOKEN } from '../rate-limit.messages.js';

/** Shortest admin token accepted (characters). @internal */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Options of `RateLimitAdminModule.forRoot`. @publicApi */
export interface RateLimitAdminOptions {
  /**
   * Bearer token every admin request must carry (`Authorization: Bearer <token>`): at least 16
   * characters, no whitespace (the app refuses to start otherwise). Unset or empty: every admin
   * route answers 404, as if the module were not there.
   */
  token?: string;
}

/**
 * Refuses, at boot, a token that is easy to guess or that no request could carry (a bearer
 * token is one run of non-space characters).
 * @internal
 */
export function checkAdminToken(token: string | undefined): void {
  if (token === undefined || token === '') return;
  if (typeof token !== 'string' || token.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new RateLimitConfigError(
      INVALID_ADMIN_TOKEN(MIN_ADMIN_TOKEN_LENGTH),
      'RateLimitAdminModule',
      'token',
    );
  }
}

/** Builder output: `forRoot` / `forRootAsync` and the options token. @internal */
export const {
  ConfigurableModuleClass: AdminConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: ADMIN_OPTIONS,
} = new ConfigurableModuleBuilder<RateLimitAdminOptions>({ moduleName: 'RateLimitAdmin' })
  .setClassMethodName('forRoot')
  // The mount point is needed while the module graph is built, before any async options resolve.
  .setExtras({ path: 'admin' }, (definition, extras) => ({
    ...definition,
    imports: [
      ...(definition.imports ?? []),
      RouterModule.register([{ path: extras.path, module: definition.module }]),
    ],
  }))
  .build();
