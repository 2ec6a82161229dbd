import { Controller, Get } from '@nestjs/common';
import { type Algorithm, RateLimit } from '@app/rate-limit';

/** Every algorithm that admits exactly its limit, whichever instances decide. */
export const EXACT_ALGORITHMS: Algorithm[] = [
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
  'token-bucket',
  'leaky-bucket',
  'gcra',
];

export const EXACT_LIMIT = 25;

// A one-day window keeps refills (one unit per ~1 h) out of a test that lasts a second.
const rule = (algorithm: Algorithm) =>
  RateLimit({ name: algorithm, algorithm, limit: EXACT_LIMIT, window: '1d', key: 'ip' });

/** One route per exact algorithm: `GET /algo/<algorithm>`. */
@Controller('algo')
export class ExactAlgorithmController {
  @rule('fixed-window') @Get('fixed-window') fixedWindow() {
    return 'ok';
  }
  @rule('sliding-window-log') @Get('sliding-window-log') slidingLog() {
    return 'ok';
  }
  @rule('sliding-window-counter') @Get('sliding-window-counter') slidingCounter() {
    return 'ok';
  }
  @rule('token-bucket') @Get('token-bucket') tokenBucket() {
    return 'ok';
  }
  @rule('leaky-bucket') @Get('leaky-bucket') leakyBucket() {
    return 'ok';
  }
  @rule('gcra') @Get('gcra') gcra() {
    return 'ok';
  }
}
