import { createHash } from 'node:crypto';
import { MAX_ID_BYTES } from '../rate-limit.constants.js';

const ESCAPES: Record<string, string> = { '%': '%25', '#': '%23', '{': '%7B', '}': '%7D' };

/**
 * Makes an identifier safe as part of a Redis key, injectively (two identifiers never share a
 * key): braces, which would let a caller pick its Redis Cluster hash slot, are percent-escaped
 * along with `%` itself and `#`, and anything longer than 64 bytes once escaped is stored as
 * `#<hash>`, a form no escaped identifier can take.
 * @internal
 */
export function safeId(id: string): string {
  const neutral = NEEDS_ESCAPE.test(id) ? id.replace(/[%#{}]/g, (c) => ESCAPES[c]) : id;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short ids need no byte count.
  if (neutral.length * 3 <= MAX_ID_BYTES || Buffer.byteLength(neutral) <= MAX_ID_BYTES) {
    return neutral;
  }
  return `#${createHash('sha256').update(id).digest('base64url')}`;
}

const NEEDS_ESCAPE = /[%#{}]/;

/**
 * `<prefix>:<rule>:{<id>}`. The hash tag is the identity, so the rules of one request that share
 * a key land in one cluster slot and one script can decide them together.
 * @internal
 */
export function stateKey(prefix: string, rule: string, id: string): string {
  return stateKeyFor(stateKeyHead(prefix, rule), id);
}

/** The `<prefix>:<rule>:` part of `stateKey`, the same for every key of a rule. @internal */
export function stateKeyHead(prefix: string, rule: string): string {
  return `${prefix}:${safeId(rule)}:`;
}

/** `stateKey` from its head. @internal */
export function stateKeyFor(head: string, id: string): string {
  return `${head}{${safeId(id)}}`;
}
