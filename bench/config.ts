/** Durations and sizes of one run. `--quick` shrinks every case for a smoke run of about 2 minutes. */
/** CPU the guard floor spends per request: about what ours spends deciding in memory. */
export const FLOOR_BUSY_US = 2;

export interface BenchConfig {
  quick: boolean;
  /** Rounds of every group, each running its cases in the same order (ABCABCABC). */
  rounds: number;
  http: {
    connections: number;
    /** Seconds of load on a freshly started app before its first measured path. */
    startWarmupS: number;
    /** Seconds of load before each measured path (after a path change). */
    warmupS: number;
    durationS: number;
    /** Distinct API keys in the many-keys paths. */
    manyKeys: number;
  };
  decisions: {
    /** Decisions in flight from the one client. */
    inFlight: number;
    limits: number[];
    /** The most entries a sliding-window log is filled with before measuring. */
    maxFill: number;
    redisMs: number;
    memoryMs: number;
  };
  memory: {
    /** Keys in the heap probe. */
    heapKeys: number;
    /** Keys averaged for `MEMORY USAGE`. */
    redisKeys: number;
  };
  profile: {
    durationS: number;
  };
  guard: {
    /** Measured time per case of the guard's CPU probe. */
    durationMs: number;
  };
}

export function loadConfig(argv: string[] = process.argv.slice(2)): BenchConfig {
  const quick = argv.includes('--quick');
  return {
    quick,
    rounds: quick ? 1 : 3,
    http: {
      connections: 50,
      startWarmupS: quick ? 2 : 3,
      warmupS: quick ? 0.3 : 0.5,
      durationS: quick ? 1 : 2.5,
      manyKeys: 10_000,
    },
    decisions: {
      inFlight: 64,
      limits: [10, 1_000, 100_000, 1_000_000_000],
      maxFill: 100_000,
      redisMs: quick ? 250 : 300,
      memoryMs: 150,
    },
    memory: {
      heapKeys: quick ? 20_000 : 100_000,
      redisKeys: 1_000,
    },
    profile: {
      durationS: quick ? 3 : 4,
    },
    guard: {
      durationMs: quick ? 500 : 1_000,
    },
  };
}
