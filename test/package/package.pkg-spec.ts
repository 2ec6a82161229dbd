import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { connect, keysWithTtl } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * The packed library installed into fresh NestJS 12 apps outside the repository, as a user gets
 * it: `npm pack`, `npm install <tarball>`, an app importing the package name.
 */
const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = 'nest-redis-rate-limit';
const rootManifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const versions = (names: string[]) =>
  Object.fromEntries(
    names.map((n) => [n, rootManifest.dependencies[n] ?? rootManifest.devDependencies[n]]),
  );
const NEST = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  'reflect-metadata',
  'rxjs',
];
const OPTIONAL_PEERS = ['@nestjs/terminus', 'prom-client', 'class-validator', 'class-transformer'];
/** Starting a Node process and Nest takes seconds on a loaded machine. */
const APP_TEST_MS = 60_000;

/** npm and node without this run's settings (jest's NODE_OPTIONS, npm_config_* of `npm run`). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => k !== 'NODE_OPTIONS' && !k.toLowerCase().startsWith('npm_'),
    ),
  );
  return { ...env, ...extra };
}

const APP_SOURCE = `import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { RateLimit, RateLimitGuard, RateLimitModule } from '${PACKAGE}';

@Controller()
class HelloController {
  @RateLimit({ name: 'hello', algorithm: 'fixed-window', limit: 3, window: '1m', key: 'ip' })
  @Get('hello')
  hello() {
    return { hello: 'world' };
  }
}

const url = process.env.REDIS_URL;

@Module({
  imports: [RateLimitModule.forRoot({ redis: url ? { url } : undefined })],
  controllers: [HelloController],
  providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
console.log('listening ' + (app.getHttpServer().address() as { port: number }).port);
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

/** A fresh app in its own folder: the tarball copied in, installed with `deps`, compiled. */
async function createApp(
  parent: string,
  name: string,
  tarball: string,
  deps: string[],
): Promise<string> {
  const dir = join(parent, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  copyFileSync(tarball, join(dir, 'library.tgz'));
  const manifest = {
    name,
    private: true,
    type: 'module',
    dependencies: versions(deps),
    devDependencies: versions(['@types/node']),
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  writeFileSync(join(dir, 'src', 'main.ts'), APP_SOURCE);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', './library.tgz'], {
    cwd: dir,
    env: cleanEnv(),
  });
  await run(join(repo, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], {
    cwd: dir,
    env: cleanEnv(),
  });
  return dir;
}

interface Started {
  url: string;
  stop(): Promise<void>;
}

/** `node dist/main.js` in the app folder; resolves once it prints its port. */
async function startApp(dir: string, env: Record<string, string> = {}): Promise<Started> {
  const child: ChildProcess = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: cleanEnv(env),
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start:\n${output}`)), 30_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited with ${code}:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Four requests to the 3-per-minute route: three admitted, the fourth limited, with headers. */
async function expectThreeThen429(url: string): Promise<void> {
  const responses = [];
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${url}/hello`);
    responses.push({
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, unknown>,
    });
  }
  expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
  expect(responses.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual([
    '2',
    '1',
    '0',
    '0',
  ]);
  for (const { headers } of responses) {
    expect(headers.get('x-ratelimit-limit')).toBe('3');
    expect(headers.get('ratelimit-policy')).toBe('"hello";q=3;w=60');
    expect(headers.get('ratelimit')).toMatch(/^"hello";r=\d;t=\d+$/);
  }
  const denied = responses[3];
  const retryAfter = Number(denied.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(denied.body).toMatchObject({
    statusCode: 429,
    error: 'Too Many Requests',
    rule: 'hello',
    retryAfter,
  });
}

/** Every file under `dir`, as paths relative to it (symlinks listed, not followed). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe(`the packed ${PACKAGE} in a fresh NestJS 12 app`, () => {
  let work: string;
  let tarball: string;
  let entries: string[];
  let app: string;
  let bare: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'rl-package-'));
    const { stdout } = await run(
      'npm',
      ['pack', '-w', 'libs/rate-limit', '--pack-destination', work, '--json'],
      {
        cwd: repo,
        env: cleanEnv(),
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(work, packed.filename);
    entries = packed.files.map((f) => f.path);
    app = await createApp(work, 'app', tarball, [...NEST, ...OPTIONAL_PEERS]);
    bare = await createApp(work, 'bare-app', tarball, NEST);
  }, 300_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs the compiled entries, every Lua script and the README, and no sources or tests', () => {
    const lua = filesUnder(join(repo, 'lua')).filter((f) => f.endsWith('.lua'));
    expect(lua.length).toBeGreaterThan(1);
    expect(entries).toEqual(
      expect.arrayContaining([...lua.map((f) => `lua/${f}`), 'README.md', 'package.json']),
    );
    for (const entry of ['index', 'health', 'metrics', 'admin', 'openapi']) {
      expect(entries).toEqual(expect.arrayContaining([`dist/${entry}.js`, `dist/${entry}.d.ts`]));
    }
    expect(entries.filter((e) => !/^(dist\/|lua\/|README\.md$|package\.json$)/.test(e))).toEqual(
      [],
    );
    expect(entries.filter((e) => /spec|test|\.ts$/.test(e) && !e.endsWith('.d.ts'))).toEqual([]);
  });

  it('is installed as files of its own, and neither app refers to the repository', () => {
    for (const dir of [app, bare]) {
      expect(relative(repo, dir).startsWith('..')).toBe(true);
      const installed = join(dir, 'node_modules', PACKAGE);
      expect(lstatSync(installed).isSymbolicLink()).toBe(false);
      const own = [
        'package.json',
        'package-lock.json',
        'tsconfig.json',
        'src/main.ts',
        'dist/main.js',
        ...filesUnder(installed).map((f) => join('node_modules', PACKAGE, f)),
      ];
      for (const file of own) expect(readFileSync(join(dir, file), 'utf8')).not.toContain(repo);
    }
  });

  it('serves the subpaths, and nothing deeper', async () => {
    const script = `
      const health = await import('${PACKAGE}/health');
      const metrics = await import('${PACKAGE}/metrics');
      const admin = await import('${PACKAGE}/admin');
      const openapi = await import('${PACKAGE}/openapi');
      const deep = await import('${PACKAGE}/dist/stores/redis.store.js').then(() => 'loaded', (e) => e.code);
      console.log(JSON.stringify({ health: Object.keys(health).sort(), metrics: Object.keys(metrics), admin: Object.keys(admin), openapi: Object.keys(openapi).sort(), deep }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      env: cleanEnv(),
    });
    expect(JSON.parse(stdout)).toEqual({
      health: ['RateLimitHealthIndicator', 'RedisHealthIndicator'],
      metrics: ['RateLimitMetrics', 'RateLimitMetricsModule'],
      admin: ['RateLimitAdminModule', 'RuntimeConfig'],
      openapi: ['RATE_LIMIT_SCHEMA', 'documentRateLimits'],
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it(
    'limits a route to 3 per minute on the memory store',
    async () => {
      const started = await startApp(app);
      try {
        await expectThreeThen429(started.url);
      } finally {
        await started.stop();
      }
    },
    APP_TEST_MS,
  );

  describe('on Redis', () => {
    let server: RedisServer;
    let redis: Redis;
    beforeAll(async () => {
      server = await RedisServer.start();
      redis = connect(server.url);
    });
    afterAll(async () => {
      redis?.disconnect();
      await server?.stop();
    });

    it(
      'limits a route to 3 per minute, with the state in Redis under a TTL',
      async () => {
        const started = await startApp(app, { REDIS_URL: server.url });
        try {
          await expectThreeThen429(started.url);
        } finally {
          await started.stop();
        }
        const keys = [...(await keysWithTtl(redis, '')).entries()].filter(([key]) =>
          key.includes(':hello:'),
        );
        expect(keys).toHaveLength(1);
        expect(keys[0][1]).toBeGreaterThan(0);
      },
      APP_TEST_MS,
    );
  });

  it(
    'loads the root entry without the optional peers installed, and limits on the memory store',
    async () => {
      for (const peer of OPTIONAL_PEERS) {
        expect(() => lstatSync(join(bare, 'node_modules', peer))).toThrow(/ENOENT/);
      }
      const started = await startApp(bare);
      try {
        await expectThreeThen429(started.url);
      } finally {
        await started.stop();
      }
    },
    APP_TEST_MS,
  );
});
