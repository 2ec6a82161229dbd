import { createHook } from 'node:async_hooks';

/**
 * Tracks the timers (unref'd ones included, which `process.getActiveResourcesInfo()` does not
 * list) created by code whose stack matches `origin`, from `start()` until they fire or are cleared.
 */
export class TimerTracker {
  private readonly live = new Map<number, string>();
  private readonly hook = createHook({
    init: (id, type) => {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (this.origin.test(stack)) this.live.set(id, stack);
    },
    destroy: (id) => {
      this.live.delete(id);
    },
  });

  constructor(private readonly origin: RegExp) {}

  start(): this {
    this.hook.enable();
    return this;
  }

  /** Creation stacks of the tracked timers still pending. */
  pending(): string[] {
    return [...this.live.values()];
  }

  stop(): void {
    this.hook.disable();
  }
}

/** Listener counts of the process events an app may subscribe to. */
export function processListeners(): Record<string, number> {
  const events = [
    'SIGTERM',
    'SIGINT',
    'SIGHUP',
    'SIGQUIT',
    'exit',
    'beforeExit',
    'uncaughtException',
    'unhandledRejection',
  ];
  return Object.fromEntries(events.map((event) => [event, process.listenerCount(event)]));
}

/** Listener counts of every event an emitter has listeners for. */
export function listenerCounts(emitter: NodeJS.EventEmitter): Record<string, number> {
  return Object.fromEntries(
    emitter.eventNames().map((event) => [String(event), emitter.listenerCount(event)]),
  );
}
