import { jest } from '@jest/globals';
import type { Algorithm } from '../interfaces/index.js';
import { MemoryStore } from './memory.store.js';
import type { RuleCall } from './rate-limit.store.js';

const T0 = Date.UTC(2026, 0, 1);

const call = (key: string, overrides: Partial<RuleCall> = {}): RuleCall => ({
  key,
  algorithm: 'fixed-window',
  limit: 1,
  windowMs: 60_000,
  cost: 1,
  enforce: true,
  ...overrides,
});

describe('MemoryStore', () => {
  let now: number;
  let store: MemoryStore;
  beforeEach(() => {
    now = T0;
    store = new MemoryStore({ clock: () => now, sweepIntervalMs: 0 });
  });
  afterEach(() => store.onModuleDestroy());

  const allowed = async (calls: RuleCall[], at = now) =>
    (await store.consume(calls, at)).outcomes.map((o) => o.allowed);

  it('is the memory store, deciding on its clock unless given a time', async () => {
    expect(store.kind).toBe('memory');
    expect((await store.consume([call('a')])).now).toBe(T0);
    expect((await store.consume([call('b')], T0 + 5)).now).toBe(T0 + 5);
  });

  describe('bounded by maxKeys', () => {
    beforeEach(() => {
      store = new MemoryStore({ clock: () => now, sweepIntervalMs: 0, maxKeys: 3 });
    });

    it('evicts the least recently written key past the bound, which then starts afresh', async () => {
      for (const key of ['k1', 'k2', 'k3']) expect(await allowed([call(key)])).toEqual([true]);
      // Writing k1 again makes k2 the least recently used.
      expect(await allowed([call('k1', { limit: 2 })])).toEqual([true]);
      expect(await allowed([call('k4')])).toEqual([true]);
      expect(store.size).toBe(3);
      expect(await allowed([call('k2')])).toEqual([true]);
      expect(await allowed([call('k1', { limit: 2 })])).toEqual([false]);
    });

    it('counts a denial as use: a client kept denied is not the one evicted', async () => {
      for (const key of ['k1', 'k2', 'k3']) expect(await allowed([call(key)])).toEqual([true]);
      // k1 is denied (limit 1 spent), which still makes it the most recently used.
      expect(await allowed([call('k1')])).toEqual([false]);
      expect(await allowed([call('k4')])).toEqual([true]);
      expect(await allowed([call('k1')])).toEqual([false]);
      expect(await allowed([call('k2')])).toEqual([true]);
    });

    it('never holds more than maxKeys, however many keys come', async () => {
      for (let i = 0; i < 50; i++) await store.consume([call(`key-${i}`)]);
      expect(store.size).toBe(3);
    });

    it('keeps the most recently written keys when a flood of new ones comes', async () => {
      const large = new MemoryStore({ clock: () => now, sweepIntervalMs: 0, maxKeys: 200 });
      for (let i = 0; i < 1_000; i++) await large.consume([call(`key-${i}`)]);
      expect(large.size).toBeLessThanOrEqual(200);
      const recent = await Promise.all(
        Array.from({ length: 150 }, (_, i) => large.consume([call(`key-${999 - i}`)])),
      );
      expect(recent.filter((r) => r.outcomes[0].allowed)).toEqual([]);
      expect((await large.consume([call('key-0')])).outcomes[0].allowed).toBe(true);
    });

    it('never evicts a key used within the last maxKeys / 16 uses, however many keys come', async () => {
      // 1,600 keys: a key may go 100 uses without moving to the recent end.
      const large = new MemoryStore({ clock: () => now, sweepIntervalMs: 0, maxKeys: 1_600 });
      expect((await large.consume([call('hot')])).outcomes[0].allowed).toBe(true);
      expect((await large.consume([call('cold')])).outcomes[0].allowed).toBe(true);
      for (let i = 0; i < 20_000; i++) {
        await large.consume([call(`flood-${i}`)]);
        // The hot key is spent (limit 1): a fresh one would admit, so a denial proves it was kept.
        if (i % 90 === 0)
          expect((await large.consume([call('hot')])).outcomes[0].allowed).toBe(false);
        expect(large.size).toBeLessThanOrEqual(1_600);
      }
      expect((await large.consume([call('cold')])).outcomes[0].allowed).toBe(true);
    });
  });

  describe('expired state', () => {
    it('is dropped when read', async () => {
      await store.consume([call('a')]);
      now = T0 + 60_000;
      await store.peek([call('a')]);
      expect(store.size).toBe(0);
    });

    it('is dropped by a sweep once its TTL has run out, and not before', async () => {
      await store.consume([call('minute')]);
      await store.consume([call('hour', { windowMs: 3_600_000 })]);
      store.sweep(T0 + 59_999);
      expect(store.size).toBe(2);
      store.sweep(T0 + 60_000);
      expect(store.size).toBe(1);
      now = T0 + 3_600_000;
      store.sweep();
      expect(store.size).toBe(0);
    });

    it('is swept periodically until the module is destroyed', async () => {
      jest.useFakeTimers({ now: T0 });
      try {
        const swept = new MemoryStore({ clock: () => now, sweepIntervalMs: 10_000 });
        await swept.consume([call('a')]);
        now = T0 + 60_000;
        jest.advanceTimersByTime(10_000);
        expect(swept.size).toBe(0);
        await swept.consume([call('b')]);
        swept.onModuleDestroy();
        now = T0 + 120_000;
        jest.advanceTimersByTime(60_000);
        expect(swept.size).toBe(1);
      } finally {
        jest.useRealTimers();
      }
    });
  });

  describe('several rules in one call: all or nothing', () => {
    it('charges no rule when one denies, and reports admitting rules uncharged', async () => {
      await store.consume([call('blocker')]);
      const bucket = call('bucket', { algorithm: 'token-bucket', limit: 5 });
      const result = await store.consume([bucket, call('blocker')]);
      expect(
        result.outcomes.map(({ allowed: a, remaining }) => ({ allowed: a, remaining })),
      ).toEqual([
        { allowed: true, remaining: 5 },
        { allowed: false, remaining: 0 },
      ]);
      expect((await store.consume([bucket])).outcomes[0].remaining).toBe(4);
    });

    it('charges every rule when all admit', async () => {
      const rules = (['fixed-window', 'sliding-window-log', 'gcra'] as Algorithm[]).map(
        (algorithm) => call(algorithm, { algorithm, limit: 3 }),
      );
      await store.consume(rules);
      expect((await store.peek(rules)).outcomes.map((o) => o.remaining)).toEqual([2, 2, 2]);
    });

    it('lets a dry-run rule report a denial without blocking, charging it only when it admits', async () => {
      await store.consume([call('dry')]);
      const dry = call('dry', { enforce: false });
      const result = await store.consume([call('enforced', { limit: 3 }), dry]);
      expect(result.outcomes.map((o) => o.allowed)).toEqual([true, false]);
      expect((await store.peek([call('enforced', { limit: 3 })])).outcomes[0].remaining).toBe(2);
    });

    it('charges nothing on a peek', async () => {
      const rules = [call('x', { limit: 2 }), call('y', { algorithm: 'leaky-bucket', limit: 2 })];
      expect((await store.peek(rules)).outcomes.map((o) => o.remaining)).toEqual([2, 2]);
      expect((await store.peek(rules)).outcomes.map((o) => o.remaining)).toEqual([2, 2]);
      expect(await allowed(rules)).toEqual([true, true]);
      expect((await store.peek(rules)).outcomes.map((o) => o.remaining)).toEqual([1, 1]);
    });
  });

  it('neither creates nor extends state for a cost of 0', async () => {
    expect(await allowed([call('look', { cost: 0 })])).toEqual([true]);
    expect(store.size).toBe(0);
    expect(await allowed([call('spent')])).toEqual([true]);
    now += 59_999;
    expect(await allowed([call('spent', { cost: 0 })])).toEqual([true]);
    now += 1;
    // Had the look re-set the window's expiry, the spent window would still deny here.
    expect(await allowed([call('spent')])).toEqual([true]);
  });

  it('forgets the state of reset keys', async () => {
    await store.consume([call('a'), call('b')]);
    await store.reset(['a']);
    expect(await allowed([call('a')])).toEqual([true]);
    expect(await allowed([call('b')])).toEqual([false]);
  });

  it('frees a concurrency slot when its lease is released', async () => {
    const lease = (leaseId: string) =>
      call('in-flight', { algorithm: 'concurrency', limit: 1, leaseId });
    expect(await allowed([lease('first')])).toEqual([true]);
    expect(await allowed([lease('second')])).toEqual([false]);
    await store.release('in-flight', 'first');
    expect(await allowed([lease('second')])).toEqual([true]);
  });
});
