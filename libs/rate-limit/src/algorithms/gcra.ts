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

/** Sub-units by which the TAT is ahead of now; a clock that went back leaves it further ahead. */
function owedAt(state: GcraState | undefined, now: number, rate: number): number {
  if (state === undefined) return 0;
  const frac = state.rate === rate ? state.frac : Math.ceil((state.frac * rate) / state.rate);
  return Math.max(0, (state.at - now) * rate + frac);
}

function stateOf(kept: number, now: number, rate: number): GcraState {
  const whole = Math.floor(kept / rate);
  return { at: now + whole, frac: kept - whole * rate, rate };
}

/**
 * With `maxDelayMs` the TAT may run past the burst by that long: a request admitted there is
 * charged at once and proceeds after the `retryAfterMs` answered with it, its reserved slot.
 */
export const gcra: AlgorithmImpl<GcraState> = {
  decide(state, { limit, windowMs, cost, now, maxDelayMs = 0 }) {
    const { per, rate } = subUnits(limit, windowMs);
    const capacity = limit * per;
    const owed = owedAt(state, now, rate);
    const slack = maxDelayMs * rate;
    const need = cost * per;
    const allowed = cost <= limit && owed + need <= capacity + slack;
    const kept = allowed ? owed + need : owed;
    const toReset = Math.ceil(kept / rate);
    const wait = cost === 0 ? 0 : Math.max(0, Math.ceil((kept - capacity) / rate));
    return {
      allowed,
      remaining: Math.max(0, Math.floor((capacity - kept) / per)),
      resetAtMs: now + toReset,
      retryAfterMs:
        cost > limit
          ? NEVER
          : allowed
            ? wait
            : Math.max(1, Math.ceil((owed + need - capacity - slack) / rate)),
      next: cost === 0 ? state : stateOf(kept, now, rate),
      ttlMs: Math.max(1, toReset),
    };
  },

  refund(state, { limit, windowMs, cost, now }) {
    const { per, rate } = subUnits(limit, windowMs);
    const owed = owedAt(state, now, rate);
    if (owed === 0) return undefined;
    const kept = Math.max(0, owed - cost * per);
    return { next: stateOf(kept, now, rate), ttlMs: Math.max(1, Math.ceil(kept / rate)) };
  },
};
