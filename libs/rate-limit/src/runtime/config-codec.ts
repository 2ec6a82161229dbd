import type { RuleMode } from '../interfaces/index.js';
import type { ListName } from '../lists/access-list.js';
import { BOUNDS } from '../rate-limit.constants.js';
import type { RuleOverride } from '../rules/rule-registry.service.js';
import { checkInteger } from '../rules/rule.validator.js';

/**
 * What the runtime configuration is made of; each is one hash in Redis with its own version.
 * `resets` holds no fields: its version moves when a key's state is reset, so every instance
 * forgets the denials it remembered.
 * @internal
 */
export type ConfigConcern = 'rules' | 'keys' | 'lists' | 'resets';

/** Every concern, in the order they are loaded. @internal */
export const CONCERNS: readonly ConfigConcern[] = ['rules', 'keys', 'lists', 'resets'];

/** A per-key (per-tenant) cap of one rule. @publicApi */
export interface KeyCap {
  /** Units per window for this key instead of the rule's (or its tier's) limit. */
  limit: number;
  /** Window for this key (ms); the rule's window when omitted. */
  windowMs?: number;
}

/** A hash as Redis returns it: field -> value. @internal */
export type Fields = Record<string, string>;

const RULE_PROPS = ['limit', 'windowMs', 'mode', 'classes'] as const;
const CLASS_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/** Weights as stored (`{"high":3}`), or `undefined` when any entry is unusable. */
function decodeWeights(value: string): Record<string, number> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const entries = Object.entries(parsed as Record<string, unknown>);
  const ok = entries.every(
    ([name, w]) => CLASS_NAME.test(name) && !checkInteger(w, { min: 1, max: 1000 }),
  );
  return ok && entries.length > 0
    ? (Object.fromEntries(entries) as Record<string, number>)
    : undefined;
}
const MODES: readonly RuleMode[] = ['enforce', 'dry-run'];

/**
 * Rule overrides are stored one field per property (`<rule>:limit`, `<rule>:windowMs`,
 * `<rule>:mode`), so a PATCH is a plain HSET of what it names: concurrent patches of different
 * properties never overwrite each other, with no read-modify-write.
 * @internal
 */
export function encodeRulePatch(name: string, patch: RuleOverride): Fields {
  const fields: Fields = {};
  for (const prop of RULE_PROPS) {
    const value = patch[prop];
    if (value === undefined) continue;
    fields[`${name}:${prop}`] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return fields;
}

/** Every field a rule's override may occupy. @internal */
export const ruleFields = (name: string): string[] => RULE_PROPS.map((prop) => `${name}:${prop}`);

/**
 * Overrides by rule name. Values that do not pass the same checks as the admin API (someone
 * wrote the hash by hand) are left out and reported through `invalid`.
 * @internal
 */
export function decodeRuleOverrides(
  fields: Fields,
  invalid: (field: string) => void,
): Map<string, RuleOverride> {
  const overrides = new Map<string, RuleOverride>();
  for (const [field, value] of Object.entries(fields)) {
    const at = field.lastIndexOf(':');
    const name = field.slice(0, at);
    const prop = field.slice(at + 1);
    let parsed: Partial<RuleOverride> | undefined;
    if (prop === 'mode' && MODES.includes(value as RuleMode)) parsed = { mode: value as RuleMode };
    if (prop === 'classes') {
      const classes = decodeWeights(value);
      if (classes) parsed = { classes };
    }
    if ((prop === 'limit' || prop === 'windowMs') && !checkInteger(Number(value), BOUNDS[prop])) {
      parsed = { [prop]: Number(value) };
    }
    if (at <= 0 || parsed === undefined) {
      invalid(field);
      continue;
    }
    overrides.set(name, { ...overrides.get(name), ...parsed });
  }
  return overrides;
}

/** Field of a per-key cap: rule names hold no whitespace, so the first space ends the name. @internal */
export const capField = (rule: string, identity: string): string => `${rule} ${identity}`;

/** Value of a per-key cap. @internal */
export const encodeKeyCap = (cap: KeyCap): string => JSON.stringify(cap);

/** Caps by `capField`; unusable values are left out and reported through `invalid`. @internal */
export function decodeKeyCaps(
  fields: Fields,
  invalid: (field: string) => void,
): Map<string, KeyCap> {
  const caps = new Map<string, KeyCap>();
  for (const [field, value] of Object.entries(fields)) {
    let cap: KeyCap | undefined;
    try {
      const { limit, windowMs } = JSON.parse(value) as KeyCap;
      const windowOk = windowMs === undefined || !checkInteger(windowMs, BOUNDS.windowMs);
      const ok = !checkInteger(limit, BOUNDS.limit) && windowOk;
      if (ok) cap = windowMs === undefined ? { limit } : { limit, windowMs };
    } catch {
      cap = undefined;
    }
    if (cap === undefined || field.indexOf(' ') <= 0) invalid(field);
    else caps.set(field, cap);
  }
  return caps;
}

/** Field of a list entry. @internal */
export const listField = (list: ListName, entry: string): string => `${list} ${entry}`;

/** Entries of both lists, sorted. @internal */
export function decodeLists(fields: Fields): Record<ListName, string[]> {
  const lists: Record<ListName, string[]> = { allow: [], block: [] };
  for (const field of Object.keys(fields)) {
    const at = field.indexOf(' ');
    const list = field.slice(0, at);
    if (list === 'allow' || list === 'block') lists[list].push(field.slice(at + 1));
  }
  lists.allow.sort();
  lists.block.sort();
  return lists;
}
