import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ALGORITHM_NAMES } from '../algorithms/index.js';
import { RateLimitConfigError } from '../errors/index.js';
import { LUA_MANIFEST, expandIncludes, findLuaDir, loadLuaScripts } from './lua-scripts.js';

const INCLUDE = /^---\s*@include\s+"([^"]+)"\s*$/m;
const INCLUDES = new RegExp(INCLUDE.source, 'gm');
const luaDir = findLuaDir();
const read = (file: string) => readFileSync(join(luaDir, file), 'utf8');
const algorithmFiles = readdirSync(join(luaDir, 'algorithms')).filter((f) => f.endsWith('.lua'));

/** Lua source without comments, so that headers documenting KEYS and ARGV do not count as reads. */
const code = (source: string) => source.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');

describe('Lua scripts', () => {
  it('finds the top-level lua sources from the library sources, not the copy a build leaves in the package', () => {
    expect(luaDir).toBe(fileURLToPath(new URL('../../../../lua', import.meta.url)));
  });

  describe('where lua/ is looked for', () => {
    let root: string;
    const consume = (dir: string) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'consume.lua'), 'return 1');
    };
    const moduleIn = (...parts: string[]) =>
      pathToFileURL(join(root, ...parts, 'lua-scripts.js')).href;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'rl-layout-'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('takes the lua/ of the installed package, beside dist/, before any folder above it', () => {
      consume(join(root, 'lua'));
      consume(join(root, 'node_modules/pkg/lua'));
      expect(findLuaDir(undefined, moduleIn('node_modules/pkg/dist/stores'))).toBe(
        join(root, 'node_modules/pkg/lua'),
      );
    });

    it('walks up from the package when compiled without a copy (the demo built in this repository)', () => {
      consume(join(root, 'lua'));
      expect(findLuaDir(undefined, moduleIn('libs/pkg/dist/stores'))).toBe(join(root, 'lua'));
    });

    it('skips the package copy when running from the sources', () => {
      consume(join(root, 'lua'));
      consume(join(root, 'libs/pkg/lua'));
      expect(findLuaDir(undefined, moduleIn('libs/pkg/src/stores'))).toBe(join(root, 'lua'));
    });

    it('lets the luaDir option win over the package copy', () => {
      consume(join(root, 'custom'));
      consume(join(root, 'node_modules/pkg/lua'));
      expect(findLuaDir(join(root, 'custom'), moduleIn('node_modules/pkg/dist/stores'))).toBe(
        join(root, 'custom'),
      );
    });

    it('names every folder it searched when none holds consume.lua', () => {
      expect(() => findLuaDir(undefined, moduleIn('node_modules/pkg/dist/stores'))).toThrow(
        join(root, 'node_modules/pkg/lua'),
      );
    });
  });

  it('has a file for every manifest entry', () => {
    for (const { file } of LUA_MANIFEST) expect(existsSync(join(luaDir, file))).toBe(true);
  });

  it('loads every manifest entry with its includes expanded, named with the protocol version', () => {
    const scripts = loadLuaScripts(luaDir);
    expect(scripts.map((s) => s.name)).toEqual(['rateLimitConsumeV4']);
    for (const script of scripts) expect(script.lua).not.toMatch(INCLUDE);
  });

  it('computes the SHA1 Redis will know the script by: of the expanded text, not of the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lua-sha-'));
    try {
      writeFileSync(join(dir, 'consume.lua'), '--- @include "algorithms/one"\nreturn one()\n');
      mkdirSync(join(dir, 'algorithms'));
      writeFileSync(join(dir, 'algorithms', 'one.lua'), 'local function one() return 1 end');
      const [script] = loadLuaScripts(dir);
      expect(script.body).toBe('local function one() return 1 end\nreturn one()\n');
      // Refused whole by a Redis at maxmemory: a shebang without allow-oom.
      expect(script.lua).toBe(`#!lua\n${script.body}`);
      // The SHA1 of exactly that text (what SCRIPT LOAD answers for it).
      expect(script.sha1).toBe('69249e7c6049c6e8fcb951e555dd06ce5fade308');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('includes every algorithm file, each registering one algorithm the library knows, and all of them', () => {
    const included = LUA_MANIFEST.flatMap(({ file }) =>
      [...read(file).matchAll(INCLUDES)].map((m) => m[1]),
    );
    for (const name of included) expect(existsSync(join(luaDir, `${name}.lua`))).toBe(true);
    const available = algorithmFiles.map((f) => `algorithms/${f.replace(/\.lua$/, '')}`);
    expect(included.sort()).toEqual(available.sort());
    const registered = algorithmFiles.flatMap((f) =>
      [...code(read(`algorithms/${f}`)).matchAll(/ALGORITHMS\['([^']+)'\]\s*=/g)].map((m) => m[1]),
    );
    expect(registered.sort()).toEqual([...ALGORITHM_NAMES].sort());
  });

  it('reads KEYS and ARGV only in the prologue of an entry script, never in an included file', () => {
    for (const { file } of LUA_MANIFEST) {
      const text = read(file);
      const firstInclude = text.search(INCLUDE);
      expect(firstInclude).toBeGreaterThan(0);
      const prologue = code(text.slice(0, firstInclude));
      expect(prologue).toMatch(/\bKEYS\b/);
      expect(prologue).toMatch(/\bARGV\b/);
      const reads = code(text.slice(firstInclude)).match(/\b(KEYS|ARGV)\b/g) ?? [];
      expect({ file, reads }).toEqual({ file, reads: [] });
    }
    for (const file of algorithmFiles) {
      expect({
        file,
        reads: code(read(`algorithms/${file}`)).match(/\b(KEYS|ARGV)\b/g) ?? [],
      }).toEqual({
        file,
        reads: [],
      });
    }
  });

  it('opens every file with a header documenting its input and output', () => {
    const files = [
      ...LUA_MANIFEST.map((m) => m.file),
      ...algorithmFiles.map((f) => `algorithms/${f}`),
    ];
    for (const file of files) {
      const header = /^--\[\[[\s\S]*Input:[\s\S]*Output:[\s\S]*?\]\]/.test(read(file));
      expect({ file, header }).toEqual({ file, header: true });
    }
  });

  describe('include expansion', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'rl-lua-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('expands nested includes in place', () => {
      writeFileSync(join(dir, 'inner.lua'), 'local inner = 1');
      writeFileSync(join(dir, 'outer.lua'), 'local outer = 2\n--- @include "inner"');
      expect(expandIncludes(dir, 'return 0\n--- @include "outer"\nreturn 3')).toBe(
        'return 0\nlocal outer = 2\nlocal inner = 1\nreturn 3',
      );
    });

    it('names a missing include', () => {
      expect(() => expandIncludes(dir, '--- @include "algorithms/missing"')).toThrow(
        /"algorithms\/missing" not found/,
      );
    });

    it('refuses an include cycle', () => {
      writeFileSync(join(dir, 'a.lua'), '--- @include "b"');
      writeFileSync(join(dir, 'b.lua'), '--- @include "a"');
      expect(() => expandIncludes(dir, '--- @include "a"')).toThrow(/cycle at "a"/);
    });
  });

  it('fails at boot with a config error listing the folder when luaDir has no consume.lua', () => {
    const empty = mkdtempSync(join(tmpdir(), 'rl-lua-'));
    try {
      expect(() => findLuaDir(empty)).toThrow(RateLimitConfigError);
      expect(() => findLuaDir(empty)).toThrow(empty);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
