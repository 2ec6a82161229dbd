import type { AlgorithmImpl } from './algorithm.interface.js';
import { NEVER } from './algorithm.interface.js';

/** Requests in flight: lease id -> expiry. The window bounds a lease whose release never came (a crashed instance). */
export type ConcurrencyState = Map<string, number>;

/** Longest retry hint: leases normally end with their request, long before they expire. */
export const CONCURRENCY_RETRY_MS = 1000;

/** A lease without an id gets one no live lease holds, so it counts and can only expire. */
function unusedId(leases: ConcurrencyState, now: number): string {
  let n = 0;
  while (leases.has(`${now}:${n}`)) n++;
  return `${now}:${n}`;
}

export const concurrency: AlgorithmImpl<ConcurrencyState> = {
  decide(state, { limit, windowMs, cost, now, leaseId }) {
    const leases: ConcurrencyState = new Map();
    for (const [id, expiresAt] of state ?? []) {
      if (expiresAt > now) leases.set(id, expiresAt);
    }
    const cleaned = new Map(leases);
    const allowed = cost <= limit && leases.size + cost <= limit;
    let retryAfterMs = 0;
    if (cost > limit) {
      retryAfterMs = NEVER;
    } else if (!allowed) {
      // Wait until enough of the soonest-expiring leases have ended for the cost to fit.
      const expiries = [...leases.values()].sort((a, b) => a - b);
      const freeing = expiries[leases.size + cost - limit - 1];
      retryAfterMs = Math.max(1, Math.min(CONCURRENCY_RETRY_MS, freeing - now));
    }
    if (allowed && cost > 0) {
      const id = leaseId ?? unusedId(leases, now);
      // A lease taken again is extended, never shortened, and not counted twice.
      leases.set(id, Math.max(leases.get(id) ?? 0, now + windowMs));
    }
    let latest = now;
    for (const expiresAt of leases.values()) if (expiresAt > latest) latest = expiresAt;
    return {
      allowed,
      // A limit lowered below the leases held leaves nothing, not a negative count.
      remaining: Math.max(0, limit - leases.size),
      resetAtMs: latest,
      retryAfterMs,
      next: leases,
      ttlMs: Math.max(1, latest - now),
      cleaned,
    };
  },
};
