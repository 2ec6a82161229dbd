import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RateLimitConfigError } from '../errors/index.js';
import { LUA_NOT_FOUND } from '../rate-limit.messages.js';
import { CONSUME_COMMAND } from './redis-protocol.js';

/** @internal The entry scripts the Redis store registers, named with their protocol version. */
export const LUA_MANIFEST = [{ name: CONSUME_COMMAND, file: 'consume.lua' }] as const;

export interface LoadedScript {
  name: string;
  lua: string;
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

/** Walks up from this module to the first folder holding `lua/consume.lua`. @internal */
export function findLuaDir(explicit?: string): string {
  const searched: string[] = [];
  if (explicit) {
    if (existsSync(join(explicit, 'consume.lua'))) return resolve(explicit);
    throw new RateLimitConfigError(LUA_NOT_FOUND([explicit]), 'options', 'luaDir');
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'lua');
    searched.push(candidate);
    if (existsSync(join(candidate, 'consume.lua'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new RateLimitConfigError(LUA_NOT_FOUND(searched), 'options', 'luaDir');
    dir = parent;
  }
}

/** Reads every manifest script, expanded, with its SHA1 computed from the text. @internal */
export function loadLuaScripts(dir: string): LoadedScript[] {
  return LUA_MANIFEST.map(({ name, file }) => {
    const lua = expandIncludes(dir, readFileSync(join(dir, file), 'utf8'));
    return { name, lua, sha1: createHash('sha1').update(lua).digest('hex') };
  });
}
