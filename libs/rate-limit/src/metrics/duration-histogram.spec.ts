import { Histogram, Registry } from 'prom-client';
import { seeded } from '../../../../test/support/random.js';
import { DurationHistogram } from './duration-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const NAME = 'rate_limit_decision_duration_seconds';
const HELP = 'Time the store took to decide a request';

/** Ours and prom-client's own histogram, each in its registry, fed the same observations. */
function twins() {
  const ours = new Registry();
  const theirs = new Registry();
  const histogram = new DurationHistogram(NAME, HELP, 'store', BUCKETS, ours);
  const reference = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['store'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const observe = (store: string, seconds: number) => {
    histogram.observe(store, seconds);
    reference.observe({ store }, seconds);
  };
  return { ours, theirs, histogram, observe };
}

describe('DurationHistogram', () => {
  it.each([1, 2, 3])(
    'exposes exactly what prom-client’s Histogram exposes for the same observations (seed %i)',
    async (seed) => {
      const { ours, theirs, observe } = twins();
      const rnd = seeded(seed);
      for (let i = 0; i < 5_000; i++) {
        // Spread over every bucket, exact bounds included, and past the last one.
        const pick = rnd();
        const seconds = pick < 0.2 ? BUCKETS[Math.floor(rnd() * BUCKETS.length)] : rnd() ** 4 * 2;
        observe(rnd() < 0.7 ? 'redis' : 'memory', seconds);
      }
      expect(await ours.metrics()).toBe(await theirs.metrics());
      // As JSON too (what cluster aggregation reads), less prom-client's empty exemplar slots.
      const plain = async (registry: Registry) =>
        (await registry.getMetricsAsJSON()).map((metric) => ({
          ...metric,
          values: metric.values.map((sample) => ({
            labels: sample.labels,
            value: sample.value,
            metricName: (sample as { metricName?: string }).metricName,
          })),
        }));
      expect(await plain(ours)).toEqual(await plain(theirs));
    },
  );

  it('shows no series before the first observation, and none after a reset', async () => {
    const { ours, theirs, observe } = twins();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe('redis', 0.003);
    expect(await ours.metrics()).toContain(`${NAME}_count{store="redis"} 1`);
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).not.toContain(`${NAME}_count`);
  });

  it('refuses a second metric of the same name in its registry', () => {
    const { ours } = twins();
    expect(() => new DurationHistogram(NAME, HELP, 'store', BUCKETS, ours)).toThrow(
      /already been registered/,
    );
  });
});
