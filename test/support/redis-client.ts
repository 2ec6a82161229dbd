import { Redis } from 'ioredis';

/** A plain client for assertions on what Redis holds. */
export function connect(url: string): Redis {
  return new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Every key under `prefix` with its PTTL; a key without TTL shows -1. */
export async function keysWithTtl(client: Redis, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) out.set(key, await client.pttl(key));
  } while (cursor !== '0');
  return out;
}

/** A key prefix per test file and run: suites sharing a server never see each other's state. */
export function keyPrefix(name: string): string {
  return `t-${name}-${process.pid}-${Date.now().toString(36)}`;
}
