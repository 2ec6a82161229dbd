import { Redis } from 'ioredis';
import type { RuleCall } from '../../libs/rate-limit/src/stores/rate-limit.store.js';
import { RedisStore } from '../../libs/rate-limit/src/stores/redis.store.js';
import { stateKey } from '../../libs/rate-limit/src/stores/redis-keys.js';
import { DAYS_31 } from '../support/algorithm-cases.js';
import { keyPrefix } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * The script commands (`evalsha`, `eval`, `script`) Redis executed while `action` ran, in order,
 * from every connection but the script's own inner calls. A marker command sent last on `client`
 * tells when the monitor has seen everything before it.
 */
async function scriptCommandsDuring(
  client: Redis,
  action: () => Promise<unknown>,
): Promise<string[]> {
  const monitor = await client.monitor();
  const seen: string[] = [];
  const marker = `marker-${Math.random()}`;
  const done = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const name = String(args[0]).toLowerCase();
      if (name === 'echo' && args[1] === marker) resolve();
      else if (source !== 'lua' && ['evalsha', 'eval', 'script'].includes(name)) seen.push(name);
    });
  });
  try {
    await action();
    await client.echo(marker);
    await done;
    return seen;
  } finally {
    monitor.disconnect();
  }
}

// Auto-pipelining is left off: after a restart ioredis 5.11 can mismatch pipelined replies
// ("Command queue state error"), which a limiter cannot afford.
describe.each([["the module's client settings", {}]])(
  'Lua scripts are reloaded without a failed decision, on %s',
  (_name, options) => {
    let server: RedisServer;
    let client: Redis;
    let admin: Redis;
    let store: RedisStore;
    const prefix = keyPrefix('reload');
    const call = (id: string, limit = 1_000): RuleCall => ({
      key: stateKey(prefix, 'reload', 'fixed-window', id),
      algorithm: 'fixed-window',
      limit,
      windowMs: DAYS_31,
      cost: 1,
      enforce: true,
    });

    /** NOSCRIPT replies Redis has sent since it started. */
    const noscriptErrors = async () => {
      const stats = await admin.info('errorstats');
      return Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(stats)?.[1] ?? 0);
    };

    beforeAll(async () => {
      server = await RedisServer.start();
      client = new Redis(server.url, options);
      admin = new Redis(server.url);
      store = new RedisStore(client);
    });
    afterAll(async () => {
      await Promise.all([client?.quit(), admin?.quit()]);
      await server?.stop();
    });

    it('runs the script by its SHA once loaded', async () => {
      await store.consume([call('warm-up')]);
      const commands = await scriptCommandsDuring(admin, () => store.consume([call('loaded')]));
      expect(commands).toEqual(['evalsha']);
    });

    it('after SCRIPT FLUSH: EVALSHA gets NOSCRIPT, EVAL runs it, and the decision stands', async () => {
      await store.consume([call('flush')]);
      const noscriptBefore = await noscriptErrors();
      let decision: Awaited<ReturnType<RedisStore['consume']>> | undefined;
      const commands = await scriptCommandsDuring(admin, async () => {
        await admin.script('FLUSH');
        decision = await store.consume([call('flush')]);
        await store.consume([call('flush')]);
      });
      expect(commands).toEqual(['script', 'evalsha', 'eval', 'evalsha']);
      expect(await noscriptErrors()).toBe(noscriptBefore + 1);
      expect(decision?.outcomes[0]).toMatchObject({ allowed: true, remaining: 998 });
      expect(await admin.hget(call('flush').key, 'c')).toBe('3');
    });

    it('a burst of decisions across a SCRIPT FLUSH all succeed and admit exactly the limit', async () => {
      const flushFirst = (i: number) => (i === 100 ? admin.script('FLUSH') : Promise.resolve());
      const decisions = Array.from({ length: 300 }, (_, i) =>
        flushFirst(i).then(() => store.consume([call('burst', 120)])),
      );
      const settled = await Promise.allSettled(decisions);
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      const admitted = settled.filter(
        (s) => s.status === 'fulfilled' && s.value.outcomes[0].allowed,
      );
      expect(admitted).toHaveLength(120);
    });

    it('after a Redis restart on the same port, the next decision loads the script again', async () => {
      await store.consume([call('restart')]);
      await server.restart();
      // Both clients reconnected, ready checks (INFO) done: a ready check landing in the same read
      // as MONITOR's own reply makes ioredis fail the monitor ("Command queue state error").
      await Promise.all([client.ping(), admin.ping()]);
      // The restart took the monitor's connection too; a fresh one watches the reconnected client.
      const commands = await scriptCommandsDuring(admin, async () => {
        const decision = await store.consume([call('restart')]);
        // State was not persisted: the window starts again.
        expect(decision.outcomes[0]).toMatchObject({ allowed: true, remaining: 999 });
      });
      // ioredis remembers loaded scripts per socket: on the new connection it sends the text first.
      expect(commands).toEqual(['eval']);
      const next = await store.consume([call('restart')]);
      expect(next.outcomes[0]).toMatchObject({ allowed: true, remaining: 998 });
    });
  },
);
