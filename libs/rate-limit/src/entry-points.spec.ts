import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));
const OPTIONAL_PEERS = [
  '@nestjs/terminus',
  'prom-client',
  'class-validator',
  'class-transformer',
  '@nestjs/graphql',
  'graphql',
  '@nestjs/websockets',
  '@nestjs/microservices',
  '@nestjs/swagger',
];

/**
 * Every package an entry loads, following its relative imports (type-only imports are erased
 * and load nothing, so they are skipped).
 */
function packagesLoadedBy(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const statements = source.matchAll(
      /^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm,
    );
    for (const [, typeOnly, specifier] of statements) {
      if (typeOnly) continue;
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
        visit(existsSync(target) ? target : join(target, 'index.ts'));
      } else {
        packages.add(
          specifier.startsWith('@')
            ? specifier.split('/').slice(0, 2).join('/')
            : specifier.split('/')[0],
        );
      }
    }
  };
  visit(join(SRC, entry));
  return packages;
}

describe('entry points', () => {
  it('the context adapters are loaded by dynamic import only, on first use of their context', () => {
    const source = readFileSync(join(SRC, 'contexts/context-adapter.ts'), 'utf8');
    for (const file of ['graphql', 'ws', 'rpc']) {
      expect(source).toContain(`import('./${file}.context.js')`);
    }
    // No static import of an adapter anywhere the root entry reaches.
    const guard = readFileSync(join(SRC, 'guard/rate-limit.guard.ts'), 'utf8');
    expect(guard).not.toMatch(/\.context\.js'/);
  });

  it('the root entry (module, guard, core, stores) loads none of the optional peers', () => {
    const loaded = packagesLoadedBy('index.ts');
    expect(loaded).toContain('ioredis');
    expect(OPTIONAL_PEERS.filter((name) => loaded.has(name))).toEqual([]);
  });

  it.each([
    ['metrics.ts', 'prom-client'],
    ['health.ts', '@nestjs/terminus'],
    ['admin.ts', 'class-validator'],
    ['contexts/graphql.context.ts', '@nestjs/graphql'],
    ['contexts/graphql.context.ts', 'graphql'],
    ['contexts/ws.context.ts', '@nestjs/websockets'],
    ['contexts/rpc.context.ts', '@nestjs/microservices'],
  ])('%s is where %s is loaded', (entry, peer) => {
    expect(packagesLoadedBy(entry)).toContain(peer);
  });
});
