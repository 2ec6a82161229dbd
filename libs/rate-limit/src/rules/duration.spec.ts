import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    [1, 1],
    [1_500, 1_500],
    [2_678_400_000, 2_678_400_000],
    ['500ms', 500],
    ['1s', 1_000],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['31d', 2_678_400_000],
    [' 10 s ', 10_000],
  ] as const)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    'refuses %d ms: a window is a positive whole number of ms',
    (input) => {
      const why = `must be a positive whole number of milliseconds, got ${input}`;
      expect(() => parseDuration(input)).toThrow(new RangeError(why));
    },
  );

  it.each(['', '10', '1.5s', '-1s', '10 sec', '1w', '10S', '1M', 's', '1e3ms'])(
    'refuses %j, naming the forms it takes',
    (input) => {
      const forms = `'500ms', '10s', '1m', '1h', '1d'`;
      const why = `must be milliseconds or a string like ${forms}, got ${JSON.stringify(input)}`;
      expect(() => parseDuration(input)).toThrow(new RangeError(why));
    },
  );

  it.each(['0s', '0ms', '0d'])('refuses %j: a window is positive', (input) => {
    const why = `must be positive, got ${JSON.stringify(input)}`;
    expect(() => parseDuration(input)).toThrow(new RangeError(why));
  });

  it('refuses what is neither a number nor a string', () => {
    expect(() => parseDuration(null as unknown as string)).toThrow(RangeError);
    expect(() => parseDuration({} as unknown as string)).toThrow(RangeError);
  });

  it('refuses a string whose milliseconds are past the safe integers rather than rounding them', () => {
    const input = '999999999999d';
    expect(() => parseDuration(input)).toThrow(
      new RangeError(`is too large, got ${JSON.stringify(input)}`),
    );
  });
});
