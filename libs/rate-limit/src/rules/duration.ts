const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+)\s*(ms|s|m|h|d)\s*$/;

/**
 * Milliseconds from a number of ms or a string such as `'500ms'`, `'10s'`, `'1m'`, `'1h'`, `'1d'`.
 * Throws a `RangeError` for anything else (fractions, negatives, unknown units).
 * @publicApi
 */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`must be a positive whole number of milliseconds, got ${value}`);
    }
    return value;
  }
  const match = typeof value === 'string' ? PATTERN.exec(value) : null;
  if (!match) {
    throw new RangeError(
      `must be milliseconds or a string like '500ms', '10s', '1m', '1h', '1d', got ${JSON.stringify(value)}`,
    );
  }
  const ms = Number(match[1]) * UNITS[match[2]];
  if (ms <= 0) throw new RangeError(`must be positive, got ${JSON.stringify(value)}`);
  if (!Number.isSafeInteger(ms)) throw new RangeError(`is too large, got ${JSON.stringify(value)}`);
  return ms;
}
