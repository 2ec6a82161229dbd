import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RateLimitConfigError } from '../errors/index.js';
import { LUA_NOT_FOUND } from '../rate-limit.messages.js';
import { CONSUME_COMMAND } from './redis-protocol.js';

/** @internal The entry scripts the Redis store registers, named with their protocol version. */
export const LUA_MANIFEST = [{ name: CONSUME_COMMAND, file: 'consume.lua' }] as const;

/**
 * Prepended to every entry script. A script with a shebang and no `allow-oom` flag is refused
 * whole by a Redis at `maxmemory` (Redis 7+), before it runs: a multi-rule decision can never be
 * half-written, and a keyless call of it proves that decisions can be made.
 * @internal
 */
export const SCRIPT_SHEBANG = '#!lua\n';

export interface LoadedScript {
  name: string;
  /** What Redis runs: the shebang line, then `body`. */
  lua: string;
  /** The expanded script without its shebang (for tests that embed it in another script). */
  body: string;
  sha1: string;
}

const INCLUDE = /^---\s*@include\s+"([^"]+)"\s*$/gm;

/** Expands `--- @include "algorithms/x"` lines (one level deep is all the scripts use). @internal */
export function expandIncludes(dir: string, source: string, seen = new Set<string>()): string {
  return source.replace(INCLUDE, (_, name: string) => {
    if (seen.has(name)) throw new Error(`Lua include cycle at "${name}"`);
    const file = join(dir, `${name}.lua`);
    if (!existsSync(file)) throw new Error(`Lua include "${name}" not found at ${file}`);
    return expandIncludes(dir, readFileSync(file, 'utf8'), new Set([...seen, name]));
  });
}

/**
 * The folder holding `consume.lua`. The `luaDir` option wins. Compiled
 * (`<package>/dist/stores/lua-scripts.js`), the package's own `lua/` beside `dist/` comes next.
 * Then, and first when running from the sources (`<package>/src/stores`, as under ts-jest), the
 * walk up from the package's parent: in this repository that reaches the top-level `lua/` sources,
 * never the copy a build left in the package, which may be older.
 * `moduleUrl` stands for this module's location. @internal
 */
export function findLuaDir(explicit?: string, moduleUrl: string = import.meta.url): string {
  if (explicit) {
    if (existsSync(join(explicit, 'consume.lua'))) return resolve(explicit);
    throw new RateLimitConfigError(LUA_NOT_FOUND([explicit]), 'options', 'luaDir');
  }
  const searched: string[] = [];
  const here = dirname(fileURLToPath(moduleUrl));
  const packageRoot = dirname(dirname(here));
  if (basename(dirname(here)) === 'dist') {
    const own = join(packageRoot, 'lua');
    searched.push(own);
    if (existsSync(join(own, 'consume.lua'))) return own;
  }
  let dir = dirname(packageRoot);
  for (;;) {
    const candidate = join(dir, 'lua');
    searched.push(candidate);
    if (existsSync(join(candidate, 'consume.lua'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new RateLimitConfigError(LUA_NOT_FOUND(searched), 'options', 'luaDir');
    dir = parent;
  }
}

/** Reads every manifest script, expanded, with its SHA1 computed from the text. @internal */
export function loadLuaScripts(dir: string): LoadedScript[] {
  return LUA_MANIFEST.map(({ name, file }) => {
    const body = expandIncludes(dir, readFileSync(join(dir, file), 'utf8'));
    const lua = SCRIPT_SHEBANG + body;
    return { name, lua, body, sha1: createHash('sha1').update(lua).digest('hex') };
  });
}
