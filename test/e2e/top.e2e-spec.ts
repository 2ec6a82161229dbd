import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startDemo, uniquePrefix, type RunningApp } from '../support/demo-app.js';
import { waitFor } from '../support/load.js';
import { freePort, RedisServer } from '../support/redis-server.js';

// The status view (`npm run top`) against a live demo: one-frame output, errors, and the live
// screen under tmux. The tool runs as its own process; the demo answers from this one, so every
// child is spawned asynchronously.

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TOOL = resolve(ROOT, 'dist/tools/top/main.js');
const TOKEN = 'top-admin-token-0123456789';
// A tmux server of this file's own, its socket in a directory removed at the end.
const TMUX_DIR = mkdtempSync(join(tmpdir(), 'top-e2e-'));
const TMUX_SOCKET = join(TMUX_DIR, 'tmux');

interface Stats {
  rules: Record<
    string,
    {
      allowed: number;
      denied: number;
      dryRunDenied: number;
      topKeys: { key: string; denied: number }[];
    }
  >;
  store: { mode: string; breaker: string };
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, whatever its exit code. */
async function exec(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(file, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

const tmux = (...args: string[]) => exec('tmux', ['-S', TMUX_SOCKET, ...args]);
const screen = async (session: string) => (await tmux('capture-pane', '-p', '-t', session)).stdout;

/** `allowed=` and `denied=` of each rule line, and the store line, of a plain frame. */
function parseFrame(text: string) {
  const rules: Record<string, { allowed: number; denied: number; line: string }> = {};
  let store: string | undefined;
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('store=')) {
      store = line;
      continue;
    }
    const name = line.split(' ')[0];
    rules[name] = {
      allowed: Number(/ allowed=(\d+)/.exec(line)?.[1]),
      denied: Number(/ denied=(\d+)/.exec(line)?.[1]),
      line,
    };
  }
  return { rules, store };
}

/** A rule's row on the live screen: its allowed and denied totals. */
function screenRow(text: string, rule: string): { allowed: number; denied: number } | undefined {
  const row = new RegExp(
    `^${rule} +\\S+ +\\d+ +\\S+ +(?:enforce|dry-run) +\\S+ +\\S+ +(\\d+) +(\\d+) *$`,
    'm',
  ).exec(text);
  return row ? { allowed: Number(row[1]), denied: Number(row[2]) } : undefined;
}

describe('npm run top', () => {
  let redis: RedisServer;
  let demo: RunningApp;

  const stats = async (): Promise<Stats> =>
    (
      await fetch(`${demo.url}/admin/stats`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    ).json() as Promise<Stats>;
  const hit = async (ip: string, times: number) => {
    const statuses = [];
    for (let i = 0; i < times; i++) {
      const res = await fetch(`${demo.url}/api/public`, { headers: { 'X-Forwarded-For': ip } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    return statuses;
  };

  beforeAll(async () => {
    const probe = spawnSync('tmux', ['-V']);
    if (probe.error || probe.status !== 0) {
      throw new Error(
        'tmux is not on PATH; the live status view is tested in it. Install it: `sudo apt-get install -y tmux`.',
      );
    }
    // `npm run top` compiles the tool first; --help needs no app.
    const build = await exec('npm', ['run', '--silent', 'top', '--', '--help']);
    expect(build).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^Usage: npm run top -- /),
    });
    redis = await RedisServer.start();
    demo = await startDemo(
      { REDIS_URL: redis.url, ADMIN_TOKEN: TOKEN, TRUST_PROXY: 'true' },
      { keyPrefix: uniquePrefix('top') },
    );
  }, 120_000);
  afterAll(async () => {
    await tmux('kill-server');
    rmSync(TMUX_DIR, { recursive: true, force: true });
    await demo?.close();
    await redis?.stop();
  });

  it('--once prints each rule with the totals of /admin/stats, and the store', async () => {
    expect(await hit('203.0.113.10', 12)).toEqual([...Array(10).fill(200), 429, 429]);
    expect(await hit('203.0.113.11', 3)).toEqual([200, 200, 200]);

    const { code, stdout } = await exec('npm', [
      'run',
      '--silent',
      'top',
      '--',
      '--once',
      '--url',
      demo.url,
      '--token',
      TOKEN,
    ]);
    expect(code).toBe(0);
    const frame = parseFrame(stdout);
    const expected = await stats();
    expect(Object.keys(frame.rules).sort()).toEqual(Object.keys(expected.rules).sort());
    for (const [name, counts] of Object.entries(expected.rules)) {
      expect({
        name,
        allowed: frame.rules[name].allowed,
        denied: frame.rules[name].denied,
      }).toEqual({
        name,
        allowed: counts.allowed,
        denied: counts.denied,
      });
    }
    expect(frame.rules.public).toMatchObject({ allowed: 13, denied: 2 });
    expect(frame.rules.public.line).toMatch(
      /^public algorithm=sliding-window-log limit=10 window=1m mode=enforce /,
    );
    expect(frame.rules.premium.line).toContain(' tiers=free:100,pro:1000,enterprise:exempt ');
    expect(frame.store).toBe('store=redis breaker=closed config=redis');
    // The throttled caller shows as its hash, the one /admin/stats gives, never as its IP.
    expect(expected.rules.public.topKeys).toEqual([
      { key: expect.stringMatching(/^[0-9a-f]{16}$/), denied: 2 },
    ]);
    expect(frame.rules.public.line).toMatch(
      new RegExp(` top_keys=${expected.rules.public.topKeys[0].key}:2$`),
    );
    expect(stdout).not.toContain('203.0.113');
  });

  it('prints the same one frame when stdout is not a terminal, taking url and token from the environment', async () => {
    const { code, stdout, stderr } = await exec('node', [TOOL], {
      RATE_LIMIT_URL: demo.url,
      ADMIN_TOKEN: TOKEN,
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const frame = parseFrame(stdout);
    expect(frame.rules.public).toMatchObject({ allowed: 13, denied: 2 });
    expect(frame.store).toBe('store=redis breaker=closed config=redis');
  });

  it('a wrong token: one line saying so, exit code 1', async () => {
    const { code, stdout, stderr } = await exec('node', [
      TOOL,
      '--once',
      '--url',
      demo.url,
      '--token',
      'wrong',
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^rate-limit top: [^\n]*401 Unauthorized: wrong admin token[^\n]*\n$/);
  });

  it('an unreachable app: one line saying so, exit code 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await exec('node', [TOOL, '--url', url, '--token', TOKEN]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `rate-limit top: cannot reach ${url}: connect ECONNREFUSED 127.0.0.1:${new URL(url).port}\n`,
    );
  });

  it('live: shows every rule with its counts, follows the traffic, shows who is throttled, quits on q', async () => {
    // Ink renders only the last frame when it believes it runs in CI.
    const command = `env -u CI -u GITHUB_ACTIONS node ${TOOL} --url ${demo.url} --token ${TOKEN}; echo "EXITED:$?"; sleep 60`;
    expect(
      (await tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', 'live', command)).code,
    ).toBe(0);

    const before = await stats();
    await waitFor(
      async () => screenRow(await screen('live'), 'writes-burst') !== undefined,
      15_000,
    );
    let text = await screen('live');
    expect(text).toMatch(/store redis +breaker closed +config redis/);
    for (const [name, counts] of Object.entries(before.rules)) {
      expect({ name, row: screenRow(text, name) }).toEqual({
        name,
        row: { allowed: counts.allowed, denied: counts.denied },
      });
    }

    expect(await hit('198.51.100.20', 15)).toEqual([...Array(10).fill(200), ...Array(5).fill(429)]);
    const after = {
      allowed: before.rules.public.allowed + 10,
      denied: before.rules.public.denied + 5,
    };
    await waitFor(async () => {
      const row = screenRow(await screen('live'), 'public');
      return row?.allowed === after.allowed && row.denied === after.denied;
    }, 15_000);
    text = await screen('live');
    // The caller just throttled 5 times leads; the one of the first test (2) follows while it is
    // under a minute old.
    const [top, ...rest] = (await stats()).rules.public.topKeys;
    expect(top).toEqual({ key: expect.stringMatching(/^[0-9a-f]{16}$/), denied: 5 });
    const others = rest.map(({ key, denied }) => ` +${key} ${denied}`).join('');
    expect(text).toMatch(new RegExp(`^public +${top.key} 5${others} *$`, 'm'));
    expect(text).not.toContain('198.51.100');

    await tmux('send-keys', '-t', 'live', 'q');
    await waitFor(async () => (await screen('live')).includes('EXITED:0'), 10_000);
  });

  it('live: quits on Ctrl-C', async () => {
    const command = `env -u CI -u GITHUB_ACTIONS node ${TOOL} --url ${demo.url} --token ${TOKEN}; echo "EXITED:$?"; sleep 60`;
    expect(
      (await tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', 'ctrlc', command)).code,
    ).toBe(0);
    await waitFor(async () => screenRow(await screen('ctrlc'), 'public') !== undefined, 15_000);
    await tmux('send-keys', '-t', 'ctrlc', 'C-c');
    await waitFor(async () => (await screen('ctrlc')).includes('EXITED:'), 10_000);
    expect(await screen('ctrlc')).toContain('EXITED:0');
  });

  it('live: an app that stops answering is said in one line while the last reading stays; q still quits', async () => {
    const doomed = await startDemo(
      { ADMIN_TOKEN: TOKEN },
      { keyPrefix: uniquePrefix('top-doomed') },
    );
    const command = `env -u CI -u GITHUB_ACTIONS node ${TOOL} --url ${doomed.url} --token ${TOKEN}; echo "EXITED:$?"; sleep 60`;
    expect(
      (await tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', 'doomed', command)).code,
    ).toBe(0);
    try {
      await waitFor(async () => (await screen('doomed')).includes('store memory'), 15_000);
    } finally {
      await doomed.close();
    }
    await waitFor(
      async () => (await screen('doomed')).includes(`cannot reach ${doomed.url}`),
      15_000,
    );
    const text = await screen('doomed');
    expect(text).toMatch(new RegExp(`^cannot reach ${doomed.url}: .*: retrying *$`, 'm'));
    expect(screenRow(text, 'public')).toEqual({ allowed: 0, denied: 0 });
    await tmux('send-keys', '-t', 'doomed', 'q');
    await waitFor(async () => (await screen('doomed')).includes('EXITED:0'), 10_000);
  });
});
