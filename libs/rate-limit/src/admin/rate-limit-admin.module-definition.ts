import { ConfigurableModuleBuilder } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';

/** Options of `RateLimitAdminModule.forRoot`. @publicApi */
export interface RateLimitAdminOptions {
  /**
   * Bearer token every admin request must carry (`Authorization: Bearer <token>`). Unset or
   * empty: every admin route answers 404, as if the module were not there.
   */
  token?: string;
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
