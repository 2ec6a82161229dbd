import type { Algorithm } from '../interfaces/index.js';
import type { AlgorithmImpl } from './algorithm.interface.js';
import { concurrency } from './concurrency.js';
import { fixedWindow } from './fixed-window.js';
import { gcra } from './gcra.js';
import { leakyBucket } from './leaky-bucket.js';
import { slidingWindowCounter } from './sliding-window-counter.js';
import { slidingWindowLog } from './sliding-window-log.js';
import { tokenBucket } from './token-bucket.js';
import { weightedTokenBucket } from './weighted-token-bucket.js';

export * from './algorithm.interface.js';

/** @internal */
// One table of implementations with different state types: `unknown` would refuse every one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const ALGORITHMS: Readonly<Record<Algorithm, AlgorithmImpl<any>>> = {
  'fixed-window': fixedWindow,
  'sliding-window-log': slidingWindowLog,
  'sliding-window-counter': slidingWindowCounter,
  'token-bucket': tokenBucket,
  'leaky-bucket': leakyBucket,
  gcra,
  concurrency,
  'weighted-token-bucket': weightedTokenBucket,
};

export const ALGORITHM_NAMES = Object.keys(ALGORITHMS) as Algorithm[];
