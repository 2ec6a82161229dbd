import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadJob, LoadResult } from './generator.js';

const GENERATOR = fileURLToPath(new URL('./generator.js', import.meta.url));

/** The load generator's process: one for a whole run, one job at a time. */
export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static start(): LoadGenerator {
    return new LoadGenerator(
      fork(GENERATOR, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(job: LoadJob): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the load generator exited with code ${code}`));
      this.child.once('exit', onExit);
      this.child.once('message', (m: { result?: LoadResult; error?: string }) => {
        this.child.off('exit', onExit);
        if (m.result) resolve(m.result);
        else reject(new Error(m.error ?? 'the load generator gave no result'));
      });
      this.child.send(job);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await done;
  }
}
