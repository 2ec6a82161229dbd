import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER } from './algorithm.interface.js';

/** Admitted requests as [time, cost], oldest first. Exact; memory grows with the limit. */
export type SlidingLogState = Array<[number, number]>;

export const slidingWindowLog: AlgorithmImpl<SlidingLogState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const entries = (state ?? []).filter(([at]) => at > now - windowMs);
    let used = 0;
    let newest = -Infinity;
    for (const [at, units] of entries) {
      used += units;
      if (at > newest) newest = at;
    }
    const allowed = cost <= limit && used + cost <= limit;
    let next = entries;
    if (allowed && cost > 0) {
      next = [...entries, [now, cost]];
      // A clock that went back may insert out of order; keep the log sorted as Redis's ZSET is.
      next.sort((a, b) => a[0] - b[0]);
      used += cost;
      if (now > newest) newest = now;
    }
    const resetAtMs = next.length === 0 ? now : newest + windowMs;
    let retryAfterMs = 0;
    if (cost > limit) {
      retryAfterMs = NEVER;
    } else if (!allowed) {
      const needed = used + cost - limit;
      let freed = 0;
      for (const [at, units] of entries) {
        freed += units;
        if (freed >= needed) {
          retryAfterMs = Math.max(1, at + windowMs - now);
          break;
        }
      }
    }
    return {
      allowed,
      // A limit lowered below what was used leaves nothing, not a negative count.
      remaining: Math.max(0, limit - used),
      resetAtMs,
      retryAfterMs,
      next,
      ttlMs: Math.max(1, resetAtMs - now),
      cleaned: entries,
    };
  },
};
