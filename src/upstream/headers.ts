import type { UpstreamHeaders } from './client.ts';

/**
 * Which headers cross the proxy, each way: hop-by-hop ones never do, the client's key is replaced by the tenant's
 * credentials, and the provider's CORS headers, cookies and encoding stay with it.
 */

/** Headers that describe one connection, not the message: never copied across the proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  // Node's server has already answered `100 Continue`; undici refuses to send the header on.
  'expect',
]);

/**
 * A client's request headers: Node's raw list (name, value, name, value...,
 * names as sent) when the server hands over the Node request, else a fetch
 * Headers. The raw list spares building a Headers object for every create
 * (2.7% of the create path's CPU profile went to it).
 */
export type ClientHeaders = Headers | readonly string[];

/**
 * Whether a client header stays behind: hop-by-hop, the client's own key, or the encodings the client
 * accepts (the proxy asks for none: it reads answers itself, and decodes one a provider compresses anyway).
 */
function staysBehind(name: string): boolean {
  return HOP_BY_HOP.has(name) || name === 'authorization' || name === 'accept-encoding';
}

/** Headers that describe the body the client sent: a body this service wrote (`jsonBody`) goes without them. */
const DESCRIBE_CLIENT_BODY = new Set(['content-type', 'content-encoding', 'content-md5', 'digest', 'content-digest', 'repr-digest']);

/**
 * Client headers to send on: hop-by-hop ones dropped, the client's own key replaced by the tenant's upstream
 * credentials; with `jsonBody` (see UpstreamRequest), the body's type and encoding are this service's.
 */
export function forwardRequestHeaders(incoming: ClientHeaders, authorization: string | undefined, jsonBody = false): Record<string, string> {
  const headers: Record<string, string> = {};
  let connection: string | undefined;
  const add = (value: string, name: string) => {
    if (name === 'connection') connection = value;
    if (staysBehind(name) || (jsonBody && DESCRIBE_CLIENT_BODY.has(name))) return;
    // Repeated headers are joined with commas, as a Headers object does.
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  };
  if (Array.isArray(incoming)) {
    for (let i = 0; i < incoming.length; i += 2) add(incoming[i + 1]!, incoming[i]!.toLowerCase());
  } else {
    (incoming as Headers).forEach(add);
  }
  // Headers the Connection header names are hop-by-hop too.
  if (connection !== undefined) for (const name of connection.toLowerCase().split(',')) delete headers[name.trim()];
  if (authorization !== undefined) headers.authorization = authorization;
  // After the Connection header's names: `Connection: content-type` took it away.
  if (jsonBody) headers['content-type'] = 'application/json';
  return headers;
}

/** Response headers as Hono takes them. */
export type HeaderRecord = Record<string, string>;

/**
 * Whether a header of the provider's answer stays with the provider. Besides those that describe its connection,
 * and its encoding (the proxy has decoded the body: see `decodeContent`, `answerBody`):
 * - its CORS headers (`access-control-*`): the browser talks to this service, whose own answer (src/cors.ts) the
 *   provider's must neither replace (a header the Response carries wins over ours) nor widen
 *   (`allow-credentials`, `allow-private-network`, an origin naming the provider's own site);
 * - its cookies (`set-cookie`): they would land on this service's origin, which the provider never meant them
 *   for and where the web UI is served, and come back with no request the provider sees from the browser;
 * - its `x-content-type-options`: every `/v1` answer is `nosniff` (src/response-headers.ts), which a
 *   header the Response carries would replace.
 */
function staysWithProvider(name: string): boolean {
  return (
    HOP_BY_HOP.has(name) ||
    name === 'content-encoding' ||
    name === 'set-cookie' ||
    name === 'x-content-type-options' ||
    name.startsWith('access-control-')
  );
}

/** Upstream response headers (lower-case names) to hand to the client. */
export function forwardResponseHeaders(upstream: UpstreamHeaders): HeaderRecord {
  const headers: HeaderRecord = {};
  upstream.forEach((value, name) => {
    if (staysWithProvider(name)) return;
    // The client gets our request id; the provider's stays visible under its own name.
    headers[name === 'x-request-id' ? 'x-upstream-request-id' : name] = value;
  });
  return headers;
}
