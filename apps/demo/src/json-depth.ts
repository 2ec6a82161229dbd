/** Deepest JSON nesting a request body may have; real payloads stay far below it. */
export const MAX_JSON_DEPTH = 32;

/** Largest JSON body accepted (bytes), on both adapters. */
export const MAX_JSON_BYTES = 100 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = new Set([0x5b, 0x7b]);
const CLOSE = new Set([0x5d, 0x7d]);

/**
 * Whether a JSON text nests deeper than `max`, found by one pass over its bytes (strings
 * skipped) before any parser recurses into it: a body of a few kilobytes of brackets would
 * otherwise exhaust the stack of whatever walks it (a 500 with a stack trace in the log).
 */
export function nestsDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (OPEN.has(byte)) {
      if (++depth > max) return true;
    } else if (CLOSE.has(byte)) {
      depth--;
    }
  }
  return false;
}

export const TOO_DEEP = `JSON body nests deeper than ${MAX_JSON_DEPTH} levels`;
