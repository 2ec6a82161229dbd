import { spawnSync } from 'node:child_process';

/** Fails the run at once, saying how to get Redis, when redis-server is not on PATH. */
export default function globalSetup() {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server is not on PATH; the integration and e2e tests start their own Redis servers.\n' +
        'Install Redis 7: `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS).',
    );
  }
}
