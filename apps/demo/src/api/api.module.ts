import { type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { ApiController } from './api.controller.js';
import { ApiKeysService } from './api-keys.service.js';
import { KeyTierMiddleware } from './key-tier.middleware.js';
import { LoginController } from './login.controller.js';
import { PremiumAuthMiddleware } from './premium-auth.middleware.js';

@Module({
  controllers: [ApiController, LoginController],
  providers: [ApiKeysService],
})
export class ApiModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(PremiumAuthMiddleware)
      .forRoutes({ path: 'api/premium', method: RequestMethod.GET });
    consumer.apply(KeyTierMiddleware).forRoutes({ path: 'api/shared', method: RequestMethod.GET });
  }
}
