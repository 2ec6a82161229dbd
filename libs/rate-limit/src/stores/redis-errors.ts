/**
 * Prefixes of the errors Redis returns when the server as a whole cannot serve commands: these
 * are outages, whatever key the command named. Every other error Redis returns for a command
 * (`WRONGTYPE`, `ERR` raised by a script, a redirection the client could not follow) concerns
 * that command's keys only.
 */
const SERVER_WIDE = [
  'OOM', // maxmemory reached with a policy that cannot evict
  'LOADING', // loading its dataset after a restart
  'BUSY', // another script runs past its time limit
  'MASTERDOWN', // a replica that lost its master
  'READONLY', // a demoted master, until the client follows the failover
  'CLUSTERDOWN',
  'MISCONF', // cannot persist and refuses writes
  'NOREPLICAS',
  'NOAUTH',
  'WRONGPASS',
  'NOPERM',
];

/**
 * How a failed Redis call is treated: `command` errors are answered by Redis about one call's
 * keys (the breaker ignores them, other keys keep deciding on Redis); `outage` is everything else
 * (no connection, a timeout, a server-wide refusal such as `OOM`).
 * @internal
 */
export type RedisFailureKind = 'command' | 'outage';

/** @internal */
export function classifyRedisError(error: unknown): RedisFailureKind {
  if (!(error instanceof Error)) return 'outage';
  // A cluster slot that kept redirecting (a failover or a slot move in progress): that slot's
  // keys, not the other masters'.
  if (error.message.startsWith('Too many Cluster redirections')) return 'command';
  // ioredis raises `ReplyError` (from redis-errors) for every error reply of the server.
  if (error.name !== 'ReplyError') return 'outage';
  const prefix = error.message.split(' ', 1)[0];
  return SERVER_WIDE.includes(prefix) ? 'outage' : 'command';
}

/** Whether Redis refused a write for lack of memory. @internal */
export const isOutOfMemory = (error: unknown): boolean =>
  error instanceof Error && error.name === 'ReplyError' && error.message.startsWith('OOM');
