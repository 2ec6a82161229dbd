import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER } from './algorithm.interface.js';

/**
 * Admitted requests, oldest first: the (time, units) pairs of `log` from index `head` to `end`,
 * and `used`, their units summed. Exact; memory grows with the limit.
 *
 * States share their buffer: expiry moves `head` forward and an admission appends after `end`
 * in place, so a decision costs O(1) amortized instead of a copy of the log. A state never
 * reads past its own `end`, so earlier states stay valid; a state whose buffer has moved on
 * (another state appended first) copies before appending.
 */
export interface SlidingLogState {
  log: number[];
  head: number;
  end: number;
  used: number;
}

/**
 * The live pairs of `state` in a new buffer, with `(now, cost)` inserted after every entry at or
 * before `now` (a clock that went back may insert out of order; the log stays sorted as Redis's
 * ZSET is).
 */
function copyWith(log: number[], head: number, end: number, now: number, cost: number): number[] {
  let at = end;
  while (at > head && log[at - 2] > now) at -= 2;
  const copy = log.slice(head, at);
  copy.push(now, cost);
  for (let i = at; i < end; i++) copy.push(log[i]);
  return copy;
}

export const slidingWindowLog: AlgorithmImpl<SlidingLogState> = {
  decide(state, { limit, windowMs, cost, now }) {
    const log = state?.log ?? [];
    let head = state?.head ?? 0;
    const end = state?.end ?? 0;
    let used = state?.used ?? 0;
    // Sorted, so the expired entries are the oldest ones.
    while (head < end && log[head] <= now - windowMs) {
      used -= log[head + 1];
      head += 2;
    }
    const cleaned: SlidingLogState = { log, head, end, used };
    const allowed = cost <= limit && used + cost <= limit;
    let next = cleaned;
    let newest = head < end ? log[end - 2] : -Infinity;
    if (allowed && cost > 0) {
      if (end === log.length && now >= newest && head <= end - head) {
        log.push(now, cost);
        next = { log, head, end: end + 2, used: used + cost };
      } else {
        // Shared tail, out-of-order time, or mostly expired: a compact copy.
        const copy = copyWith(log, head, end, now, cost);
        next = { log: copy, head: 0, end: copy.length, used: used + cost };
      }
      used += cost;
      if (now > newest) newest = now;
    }
    const resetAtMs = next.head === next.end ? now : newest + windowMs;
    let retryAfterMs = 0;
    if (cost > limit) {
      retryAfterMs = NEVER;
    } else if (!allowed) {
      const needed = used + cost - limit;
      // The oldest entry whose leaving frees enough: the needed-th when every cost is 1 (units
      // equal entries), otherwise found walking from the oldest.
      let i = head;
      if (used === (end - head) / 2) i += 2 * (needed - 1);
      else for (let freed = log[i + 1]; freed < needed; freed += log[i + 1]) i += 2;
      retryAfterMs = Math.max(1, log[i] + windowMs - now);
    }
    return {
      allowed,
      // A limit lowered below what was used leaves nothing, not a negative count.
      remaining: Math.max(0, limit - used),
      resetAtMs,
      retryAfterMs,
      next,
      ttlMs: Math.max(1, resetAtMs - now),
      cleaned,
    };
  },

  // Removes the admission's entry: the newest of the charge's time with its cost (entries alike
  // in both are interchangeable). The log keeps its expiry, as the Redis key does.
  refund(state, { cost, chargedAt }) {
    if (state === undefined) return undefined;
    const { log, head, end, used } = state;
    let i = end - 2;
    while (i >= head && !(log[i] === chargedAt && log[i + 1] === cost)) i -= 2;
    if (i < head) return undefined;
    const copy = [...log.slice(head, i), ...log.slice(i + 2, end)];
    return { next: { log: copy, head: 0, end: copy.length, used: used - cost } };
  },
};
