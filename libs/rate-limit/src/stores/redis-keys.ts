import { createHash } from 'node:crypto';
import type { Algorithm } from '../interfaces/index.js';
import { MAX_ID_BYTES } from '../rate-limit.constants.js';

/**
 * Each algorithm's state lives under a key of its own: a rule whose algorithm changes between
 * two deploys starts fresh instead of reading state of another shape (a Redis `WRONGTYPE`, or
 * worse, fields it misreads).
 */
const ALGORITHM_TAGS: Readonly<Record<Algorithm, string>> = {
  'fixed-window': 'fw',
  'sliding-window-log': 'swl',
  'sliding-window-counter': 'swc',
  'token-bucket': 'tb',
  'leaky-bucket': 'lb',
  gcra: 'gcra',
  concurrency: 'cc',
  'weighted-token-bucket': 'wtb',
};

const NEEDS_ESCAPE = /[%#{}]/;
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

/**
 * `<prefix>:<rule>:<algorithm tag>:{<id>}`, e.g. `rl:public:swl:{ip=203.0.113.7}`. The hash tag
 * is the identity, so the rules of one request that share a key land in one cluster slot and one
 * script can decide them together. The tag never holds `:`, so the key still names one rule.
 * @internal
 */
export function stateKey(prefix: string, rule: string, algorithm: Algorithm, id: string): string {
  return stateKeyFor(stateKeyHead(prefix, rule, algorithm), id);
}

/** The `<prefix>:<rule>:<algorithm tag>:` part of `stateKey`, the same for every key of a rule. @internal */
export function stateKeyHead(prefix: string, rule: string, algorithm: Algorithm): string {
  return `${prefix}:${safeId(rule)}:${ALGORITHM_TAGS[algorithm]}:`;
}

/** `stateKey` from its head. @internal */
export function stateKeyFor(head: string, id: string): string {
  return `${head}{${safeId(id)}}`;
}

/**
 * The key holding a rule's block (see `blockDuration`) beside its state key: `<state key>:block`.
 * It hashes to the state key's cluster slot, as one script must touch both: Redis hashes a key
 * by the text between its first `{` and the first `}` after it, which a state key closes itself
 * (its identity's braces are escaped), so the suffix never reaches the tag. And it is no state
 * key: those all end with `}`.
 * @internal
 */
export function blockKey(key: string): string {
  return `${key}:block`;
}
