import { Body, Controller, HttpCode, Post, UnauthorizedException } from '@nestjs/common';
import { RateLimit } from '@app/rate-limit';

/** The demo's one account: a login route to show `count: 'failures'`, not an authentication scheme. */
const DEMO_USER = { user: 'demo', password: 'demo-password' };

/** Failed logins are limited; successful ones are never charged (see the README's demo section). */
@Controller('api')
export class LoginController {
  @RateLimit({
    name: 'login',
    algorithm: 'sliding-window-log',
    limit: 5,
    window: '15m',
    key: 'ip',
    count: 'failures',
  })
  @Post('login')
  @HttpCode(200)
  login(@Body() body: { user?: unknown; password?: unknown } | undefined) {
    if (body?.user !== DEMO_USER.user || body?.password !== DEMO_USER.password) {
      throw new UnauthorizedException('Wrong user or password');
    }
    return { ok: true, route: 'login' };
  }
}
