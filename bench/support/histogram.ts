/**
 * Log-bucketed latency histogram (about 1% resolution): constant memory and cost per sample,
 * where keeping every sample of a million in-memory decisions would distort what is measured.
 */
export class Histogram {
  private static readonly PER_E = 100;
  private readonly buckets = new Float64Array(2_400);
  count = 0;

  /** Records one sample in microseconds. */
  record(us: number): void {
    const bucket = Math.floor(Math.log1p(Math.max(0, us)) * Histogram.PER_E);
    const index = Math.min(this.buckets.length - 1, bucket);
    this.buckets[index]++;
    this.count++;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] += other.buckets[i];
    this.count += other.count;
  }

  /** The `p`-th percentile (0..100) in microseconds, at the middle of its bucket. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return Math.expm1((i + 0.5) / Histogram.PER_E);
    }
    return NaN;
  }
}
