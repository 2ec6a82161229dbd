/**
 * The one spelling of "whose budget": a list of parts such as `ip=203.0.113.7|key=abc`. Every
 * layer that names a caller (the guard, the admin API, the lists, per-key caps, workers calling
 * `RateLimiter`) builds and reads identities here, so they all name the same state.
 *
 * Values are escaped (`%` as `%25`, `|` as `%7C`) so that no value can forge another part:
 * `formatIdentity` is injective and `parseIdentity` is its exact inverse. Values without those
 * two characters are written as they are.
 * @internal
 */

/** The sources a part can name. `global` has no value. @internal */
export type IdentitySource = 'ip' | 'key' | 'user' | 'route';

/** One part of an identity. @internal */
export type IdentityPart = { source: IdentitySource; value: string } | { source: 'global' };

const SOURCES: readonly string[] = ['ip', 'key', 'user', 'route'];

const escape = (value: string) =>
  NEEDS_ESCAPE.test(value) ? value.replace(/%/g, '%25').replace(/\|/g, '%7C') : value;
const NEEDS_ESCAPE = /[%|]/;

/** `undefined` when `raw` holds a `%` that is not one of the two escapes. */
function unescape(raw: string): string | undefined {
  if (!/^(?:[^%]|%25|%7C)*$/.test(raw)) return undefined;
  return raw.replace(/%(25|7C)/g, (_, code: string) => (code === '25' ? '%' : '|'));
}

/** One part as written. @internal */
export function formatPart(part: IdentityPart): string {
  return part.source === 'global' ? 'global' : `${part.source}=${escape(part.value)}`;
}

/** Parts joined by `|`. Values must be non-empty. @internal */
export function formatIdentity(parts: readonly IdentityPart[]): string {
  if (parts.length === 0) throw new RangeError('an identity has at least one part');
  for (const part of parts) {
    if (part.source !== 'global' && part.value === '') {
      throw new RangeError(`the ${part.source} part of an identity cannot be empty`);
    }
  }
  let text = formatPart(parts[0]);
  for (let i = 1; i < parts.length; i++) text += `|${formatPart(parts[i])}`;
  return text;
}

/** The parts of an identity written by `formatIdentity`; `undefined` when `text` is not one. @internal */
export function parseIdentity(text: string): IdentityPart[] | undefined {
  if (text === '') return undefined;
  const parts: IdentityPart[] = [];
  for (const piece of text.split('|')) {
    if (piece === 'global') {
      parts.push({ source: 'global' });
      continue;
    }
    const eq = piece.indexOf('=');
    const source = piece.slice(0, eq);
    if (eq <= 0 || !SOURCES.includes(source)) return undefined;
    const value = unescape(piece.slice(eq + 1));
    if (value === undefined || value === '') return undefined;
    parts.push({ source: source as IdentitySource, value });
  }
  return parts;
}
