import type { Redis } from 'ioredis';

/** Script runs (`EVALSHA` and `EVAL`) since the last `CONFIG RESETSTAT`, as Redis counts them. */
export interface ScriptStats {
  calls: number;
  /** Microseconds Redis spent running them, in total. */
  usec: number;
  /** Calls by command, e.g. `{ evalsha: 120, eval: 1 }`. */
  byCommand: Record<string, number>;
}

export async function resetStats(client: Redis): Promise<void> {
  await client.config('RESETSTAT');
}

export async function scriptStats(client: Redis): Promise<ScriptStats> {
  const info = await client.info('commandstats');
  const stats: ScriptStats = { calls: 0, usec: 0, byCommand: {} };
  for (const match of info.matchAll(
    /^cmdstat_(evalsha|eval|evalsha_ro|eval_ro|fcall):calls=(\d+),usec=(\d+)/gm,
  )) {
    stats.byCommand[match[1]] = Number(match[2]);
    stats.calls += Number(match[2]);
    stats.usec += Number(match[3]);
  }
  return stats;
}

/** CPU seconds (user + system) redis-server has used so far. */
export async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}
