/** Durations and sizes of one run. `BENCH_QUICK=1` shrinks every case to about a second for development. */
export interface BenchConfig {
  quick: boolean;
  decisions: {
    /** Decisions in flight at any time, for every case. */
    concurrency: number;
    /** Distinct keys, taken round-robin. */
    keySpread: number;
    /** Per-key limit: high enough that nothing is ever denied. */
    limit: number;
    windowMs: number;
    warmupMs: number;
    /** Rounds alternate the case order (A B C, then C B A): drift on a busy machine hits every case alike. */
    rounds: number;
    redisRoundMs: number;
    memoryRoundMs: number;
  };
  http: {
    connections: number;
    /** Seconds. */
    warmupS: number;
    durationS: number;
  };
  memory: {
    keys: number;
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  return {
    quick,
    decisions: {
      concurrency: 64,
      keySpread: 10_000,
      limit: 10_000,
      windowMs: 60_000,
      warmupMs: quick ? 100 : 300,
      rounds: 2,
      redisRoundMs: quick ? 400 : 1_500,
      memoryRoundMs: quick ? 300 : 1_000,
    },
    http: {
      connections: 50,
      warmupS: quick ? 0 : 2,
      durationS: quick ? 1 : 5,
    },
    memory: {
      keys: 100_000,
    },
  };
}
