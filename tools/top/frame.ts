import type { RuleInfo, Snapshot, Stats } from './admin-client.js';

/** One rule as the view shows it. Rates are absent until two readings exist. */
export interface RuleRow {
  name: string;
  algorithm: string;
  limit: number;
  /** A tiered rule's limits, e.g. `free:100,pro:1000,enterprise:exempt`. */
  tiers?: string;
  window: string;
  mode: RuleInfo['mode'];
  allowed: number;
  denied: number;
  dryRunDenied: number;
  allowedPerSecond?: number;
  deniedPerSecond?: number;
  topKeys: { key: string; denied: number }[];
}

export interface Frame {
  rows: RuleRow[];
  store: Stats['store']['mode'];
  breaker: Stats['store']['breaker'];
  config: Stats['config'];
}

/** Builds the frame of `now`; with `previous`, the per-second rates between the two readings. */
export function buildFrame(now: Snapshot, previous?: Snapshot): Frame {
  const seconds = previous ? (now.at - previous.at) / 1000 : 0;
  const rate = (current: number, before: number | undefined) => {
    if (before === undefined || seconds <= 0) return undefined;
    // A counter going down means the app restarted: everything since counts as new.
    return (current >= before ? current - before : current) / seconds;
  };
  const rows = now.rules.map((rule): RuleRow => {
    const counts = now.stats.rules[rule.name] ?? { allowed: 0, denied: 0, dryRunDenied: 0 };
    const before = previous?.stats.rules[rule.name];
    return {
      name: rule.name,
      algorithm: rule.algorithm,
      limit: rule.limit,
      tiers: rule.tiers && tiersText(rule.tiers),
      window: duration(rule.windowMs),
      mode: rule.mode,
      allowed: counts.allowed,
      denied: counts.denied,
      dryRunDenied: counts.dryRunDenied,
      allowedPerSecond: rate(counts.allowed, before?.allowed),
      deniedPerSecond: rate(
        counts.denied + counts.dryRunDenied,
        before && before.denied + before.dryRunDenied,
      ),
      topKeys: counts.topKeys ?? [],
    };
  });
  const { mode, breaker } = now.stats.store;
  return { rows, store: mode, breaker, config: now.stats.config };
}

/** The plain-text frame of `--once`: the store line, then a line per rule starting with its name. */
export function plainFrame(frame: Frame): string {
  const lines = [`store=${frame.store} breaker=${frame.breaker} config=${frame.config}`];
  for (const row of frame.rows) {
    const top = row.topKeys.map(({ key, denied }) => `${key}:${denied}`).join(',') || '-';
    lines.push(
      [
        row.name,
        `algorithm=${row.algorithm}`,
        `limit=${row.limit}`,
        ...(row.tiers ? [`tiers=${row.tiers}`] : []),
        `window=${row.window}`,
        `mode=${row.mode}`,
        `allowed=${row.allowed}`,
        `denied=${row.denied}`,
        `dry_run_denied=${row.dryRunDenied}`,
        `top_keys=${top}`,
      ].join(' '),
    );
  }
  return lines.join('\n') + '\n';
}

function tiersText(tiers: NonNullable<RuleInfo['tiers']>): string {
  return Object.entries(tiers)
    .map(([tier, limit]) => `${tier}:${limit}`)
    .join(',');
}

/** `60000` -> `1m`, `1500` -> `1500ms`: the largest unit that divides the window. */
export function duration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `3`, `12.5`, `1.2k`: a rate in at most five characters. */
export function rateText(value: number | undefined): string {
  if (value === undefined) return '-';
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  if (value >= 1_000) return `${(value / 1000).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
