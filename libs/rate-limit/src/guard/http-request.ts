import type { ClientInfo } from '../interfaces/index.js';
import type { ClientIpResolver } from './client-identity.js';

/** The parts of Express and Fastify requests the guards read. @internal */
export interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  raw?: { socket?: { remoteAddress?: string } };
  user?: { id?: unknown; sub?: unknown };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An `X-API-Key` value as the text its bytes spell in UTF-8. Node hands header values over as
 * latin1 (one character per byte), while admin paths are percent-decoded as UTF-8: decoding the
 * header the same way makes a non-ASCII key match the entry an operator wrote for it. A value
 * that is not valid UTF-8 names no key (the caller is then keyed by IP).
 * @internal
 */
export function decodeApiKey(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  // eslint-disable-next-line no-control-regex -- plain ASCII, control characters included, needs no decoding
  if (/^[\x00-\x7f]*$/.test(header)) return header;
  try {
    return utf8.decode(Buffer.from(header, 'latin1'));
  } catch {
    return undefined;
  }
}

/** Who the caller is: client IP (per `trustProxy`) and API key. @internal */
export function readClient(request: HttpRequest, ips: ClientIpResolver): ClientInfo {
  const socket = request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress;
  return {
    ip: ips.resolve(socket, request.headers['x-forwarded-for']),
    apiKey: decodeApiKey(request.headers['x-api-key']),
  };
}

/**
 * Sets every header of a response in one call where the adapter has one (Express `res.set`,
 * Fastify `reply.headers`), through the adapter otherwise.
 * @internal
 */
export function setHeaders(
  response: object,
  headers: Record<string, string>,
  fallback: (response: object, name: string, value: string) => void,
): void {
  if (Object.keys(headers).length === 0) return;
  const target = response as { headers?: unknown; set?: unknown; locals?: unknown };
  if (typeof target.headers === 'function')
    (target.headers as (h: object) => void).call(response, headers);
  else if (typeof target.set === 'function' && target.locals !== undefined)
    (target.set as (h: object) => void).call(response, headers);
  else for (const [name, value] of Object.entries(headers)) fallback(response, name, value);
}
