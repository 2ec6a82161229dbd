import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux), or NaN. Read before
 * and after a measurement, it tells which process was saturated.
 */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}
