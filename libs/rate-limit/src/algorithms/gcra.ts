import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER, subUnits } from './algorithm.interface.js';

/**
 * Theoretical arrival time `at + frac / rate` ms: whole ms plus integer sub-units (see
 * `subUnits`), because a float epoch timestamp cannot hold an emission interval below its
 * precision (about 0.24 microseconds today: 1e9 per second would never advance it).
 * Emission interval window/limit, burst up to `limit`.
 */
export interface GcraState {
  at: number;
  frac: number;
  /** The `rate` that `frac` is counted in, so a changed rule converts it. */
  rate: number;
}

export const gcra: AlgorithmImpl<GcraState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const { per, rate } = subUnits(limit, windowMs);
    const capacity = limit * per;
    // Sub-units by which the TAT is ahead of now; a clock that went back leaves it further ahead.
    let owed = 0;
    if (state !== undefined) {
      const frac = state.rate === rate ? state.frac : Math.ceil((state.frac * rate) / state.rate);
      owed = Math.max(0, (state.at - now) * rate + frac);
    }
    const need = cost * per;
    const allowed = cost <= limit && owed + need <= capacity;
    const kept = allowed ? owed + need : owed;
    const whole = Math.floor(kept / rate);
    const toReset = Math.ceil(kept / rate);
    return {
      allowed,
      remaining: Math.max(0, Math.floor((capacity - kept) / per)),
      resetAtMs: now + toReset,
      retryAfterMs:
        cost > limit ? NEVER : allowed ? 0 : Math.max(1, Math.ceil((owed + need - capacity) / rate)),
      next: cost === 0 ? state : { at: now + whole, frac: kept - whole * rate, rate },
      ttlMs: Math.max(1, toReset),
    };
  },
};
