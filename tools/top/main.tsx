#!/usr/bin/env node
// The live status view of a running app: `npm run top -- --url <app URL> --token <ADMIN_TOKEN> [--once]`.
import { render } from 'ink';
import { parseArgs } from 'node:util';
import { AdminClient, AdminError } from './admin-client.js';
import { buildFrame, plainFrame } from './frame.js';
import { TopView } from './view.js';

const USAGE = `Usage: npm run top -- [--url <app URL>] [--token <admin token>] [--once]

  --url     the app (default: RATE_LIMIT_URL, else http://127.0.0.1:3000)
  --token   its admin token (default: ADMIN_TOKEN)
  --once    print one plain-text frame and exit (also when stdout is not a terminal)
`;

function fail(message: string, code: number): never {
  process.stderr.write(`rate-limit top: ${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`, 2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const url = args.url ?? process.env.RATE_LIMIT_URL ?? 'http://127.0.0.1:3000';
if (!URL.canParse(url)) fail(`--url ${JSON.stringify(url)} is not a URL`, 2);
const client = new AdminClient(url, args.token ?? process.env.ADMIN_TOKEN ?? '');

let first;
try {
  first = await client.snapshot();
} catch (error) {
  fail(error instanceof AdminError ? error.message : String(error), 1);
}

if (args.once || !process.stdout.isTTY) {
  // Exiting once written: keep-alive sockets to the app would otherwise hold the process a while.
  process.stdout.write(plainFrame(buildFrame(first)), () => process.exit(0));
} else {
  const interactive = process.stdin.isTTY === true;
  const app = render(<TopView client={client} url={url} first={first} interactive={interactive} />);
  await app.waitUntilExit();
  process.exit(0);
}
