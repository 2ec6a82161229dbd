import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  loadAvg: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  let os = `${process.platform} ${release()}`;
  if (existsSync('/etc/os-release')) {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty) os = `${pretty[1]} (kernel ${release()})`;
  }
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os,
    loadAvg: currentLoad(),
  };
}

/** 1, 5 and 15 minute load averages: how busy the shared machine was. */
export function currentLoad(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** Installed versions, read from each package's own manifest. */
export function packageVersions(root: string, names: string[]): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of names) {
    const file =
      name === '@app/rate-limit'
        ? join(root, 'libs/rate-limit/package.json')
        : join(root, 'node_modules', name, 'package.json');
    versions[name] = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
      : 'not installed';
  }
  return versions;
}

/** The commit measured, marked `+dirty` when the tree has uncommitted changes. */
export function gitRevision(root: string): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' });
    const dirty = status.trim() !== '';
    return dirty ? `${rev}+dirty` : rev;
  } catch {
    return 'unknown';
  }
}
