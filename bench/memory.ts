import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchConfig } from './config.js';
import { ALGORITHMS, RLF_MEMORY } from './decisions.js';

export interface MemoryResult {
  store: string;
  /** Heap growth scaled to 100k keys, bytes. */
  bytesPer100k: number;
  bytesPerKey: number;
  error?: string;
}

const PROBE = fileURLToPath(new URL('./memory/probe.js', import.meta.url));

interface ProbeAnswer {
  bytes?: number;
  keysHeld?: number;
  error?: string;
}

async function probe(store: string, keys: number): Promise<ProbeAnswer> {
  const child = fork(PROBE, [store, String(keys)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 2_000) stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    let answered = false;
    child.once('message', (m) => {
      answered = true;
      resolve(m as ProbeAnswer);
    });
    child.once('exit', (code) => {
      if (!answered) resolve({ error: `probe exited with code ${code}: ${stderr.trim().split('\n')[0]}` });
    });
  });
}

export async function benchMemory(config: BenchConfig, log: (line: string) => void): Promise<MemoryResult[]> {
  const { keys } = config.memory;
  const stores: Array<[string, string]> = [
    ...ALGORITHMS.map((a): [string, string] => [`ours:${a}`, `ours MemoryStore ${a}`]),
    ['rlf', RLF_MEMORY],
  ];
  log(`memory: ${stores.length} stores, ${keys} keys each, one process per store`);
  const results: MemoryResult[] = [];
  for (const [id, label] of stores) {
    const r = await probe(id, keys);
    let error = r.error;
    if (!error && r.keysHeld !== undefined && r.keysHeld !== keys) {
      error = `held ${r.keysHeld} of ${keys} keys`;
    }
    const bytes = r.bytes ?? NaN;
    results.push({ store: label, bytesPer100k: (bytes / keys) * 100_000, bytesPerKey: bytes / keys, error });
    log(`  ${label}: ${error ? `FAILED ${error}` : `${Math.round(bytes / keys)} bytes/key`}`);
  }
  return results;
}
