import type { Metric, Registry } from 'prom-client';

interface Series {
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A histogram with one label, exposed exactly as prom-client's `Histogram` exposes it, whose
 * `observe` is an array increment: prom-client's validates and hashes the labels on every call
 * (about 200 ns), which on the decision path cost more than the bookkeeping around it.
 * @internal
 */
export class DurationHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: L,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    // The registry reads a metric only through get(), reset() and these fields.
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labelValue: string, seconds: number): void {
    let series = this.series.get(labelValue);
    if (series === undefined) {
      series = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.series.set(labelValue, series);
    }
    const { buckets } = this;
    let i = 0;
    while (i < buckets.length && seconds > buckets[i]) i++;
    series.counts[i]++;
    series.sum += seconds;
    series.count++;
  }

  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Sample[];
  }> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [labelValue, series] of this.series) {
      let total = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        total += series.counts[i];
        values.push({
          metricName: bucket,
          labels: { le: this.buckets[i], [this.label]: labelValue },
          value: total,
        });
      }
      const labels = { [this.label]: labelValue };
      values.push(
        { metricName: bucket, labels: { le: '+Inf', ...labels }, value: series.count },
        { metricName: `${this.name}_sum`, labels, value: series.sum },
        { metricName: `${this.name}_count`, labels, value: series.count },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    this.series.clear();
  }
}
