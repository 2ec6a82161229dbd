import { fork } from 'node:child_process';

/**
 * Runs a probe script in a fresh process and answers the one message it sends back, or
 * `{ error }` with the first line of its stderr if it exits without one.
 */
export function runProbe<T extends { error?: string }>(
  script: string,
  args: string[],
  execArgv: string[] = [],
): Promise<T> {
  const child = fork(script, args, { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 2_000) stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    let answered = false;
    child.once('message', (m) => {
      answered = true;
      resolve(m as T);
    });
    child.once('exit', (code) => {
      if (!answered)
        resolve({ error: `probe exited with code ${code}: ${stderr.trim().split('\n')[0]}` } as T);
    });
  });
}
