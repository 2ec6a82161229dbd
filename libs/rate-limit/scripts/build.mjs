// Builds the package: compiles src/ into dist/ (tsconfig.lib.json, declarations on), then copies
// the Lua scripts from the repository's top-level lua/ (their only source) into lua/.
// `--pack` (prepack) first removes earlier output, so a tarball never holds a file whose source is
// gone, and adds the repository's README, the package's documentation.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const repo = join(pkg, '..', '..');
const out = { dist: join(pkg, 'dist'), lua: join(pkg, 'lua'), readme: join(pkg, 'README.md') };

const pack = process.argv.includes('--pack');
if (pack) {
  rmSync(out.dist, { recursive: true, force: true });
  rmSync(join(pkg, 'tsconfig.lib.tsbuildinfo'), { force: true });
}

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-b', join(pkg, 'tsconfig.lib.json')], { stdio: 'inherit' });

// Replaced whole, so a script removed from lua/ leaves no copy behind.
rmSync(out.lua, { recursive: true, force: true });
cpSync(join(repo, 'lua'), out.lua, {
  recursive: true,
  filter: (file) => statSync(file).isDirectory() || extname(file) === '.lua',
});
if (pack) copyFileSync(join(repo, 'README.md'), out.readme);
