import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { PROJECT_ROOT } from '../project-root.ts';

/** The UI's sources, served as they are: plain ES modules and CSS, no build step. */
const UI_FOLDER = join(PROJECT_ROOT, 'src', 'ui');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Stored completions hold whatever users and models wrote, so the page must not run or load anything
 * it did not ship: scripts and styles from this origin only (no inline ones), requests to this origin
 * only. Images are the exception: a message's image part may be any http(s) URL (loaded only when the reader
 * asks: src/ui/remote-images.js) or data URL; and a message's
 * audio part plays from its own data (a data: URL, never fetched).
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https: http:",
  'media-src data:',
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': UI_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** One file, compressed once at start: the UI is small, so paying brotli's best level once beats paying it per request. */
interface Asset {
  contentType: string;
  identity: Buffer;
  gzip: Buffer;
  brotli: Buffer;
  etag: string;
}

function compress(contentType: string, identity: Buffer): Asset {
  return {
    contentType,
    identity,
    gzip: gzipSync(identity, { level: 9 }),
    brotli: brotliCompressSync(identity, {
      params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: identity.length },
    }),
    etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
  };
}

/** The encodings a request accepts, ignoring those it refuses with q=0. */
function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const refused = params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
    if (name && !refused) accepted.add(name);
  }
  return accepted;
}

function send(c: Context<AppEnv>, asset: Asset, cacheControl: string): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  c.header('content-type', asset.contentType);
  c.header('cache-control', cacheControl);
  c.header('vary', 'Accept-Encoding');
  c.header('etag', asset.etag);
  if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304);
  const accepted = acceptedEncodings(c.req.header('accept-encoding'));
  if (accepted.has('br')) {
    c.header('content-encoding', 'br');
    return c.body(new Uint8Array(asset.brotli));
  }
  if (accepted.has('gzip')) {
    c.header('content-encoding', 'gzip');
    return c.body(new Uint8Array(asset.gzip));
  }
  return c.body(new Uint8Array(asset.identity));
}

/** The module index.html loads; every other module is reached from it by a static import. */
const ENTRY_MODULE = 'app.js';

/** The modules a module imports by a relative path (`from './x.js'`, `import './x.js'`): the UI's only kind of import. */
function relativeImports(source: string): string[] {
  return [...source.matchAll(/\b(?:from|import)\s*'\.\/([\w.-]+\.js)'/g)].map((match) => match[1]!);
}

/**
 * Every module `entry` imports, directly or not, in the order a browser finds them. The page names them all as
 * modulepreload links, so that the browser asks for the whole graph at once: without a link, a module imported by an
 * imported module waits for its importer to arrive, one round trip to the service more per level.
 */
function modulesImportedBy(entry: string, sources: Map<string, Buffer>): string[] {
  const found = new Set<string>([entry]);
  for (const name of found) {
    for (const imported of relativeImports(sources.get(name)?.toString('utf8') ?? '')) if (sources.has(imported)) found.add(imported);
  }
  found.delete(entry);
  return [...found];
}

export interface UiBundle {
  /** Changes whenever any file changes: asset URLs carry it, so they can be cached forever. */
  version: string;
  page: Asset;
  assets: Map<string, Asset>;
}

/**
 * Reads `src/ui/` once. Every asset lives under `/ui/<version>/`, where the version is a hash of all
 * files: the modules import each other by relative paths, so one version covers the whole graph and a
 * changed file never meets a stale neighbour from the browser's cache.
 */
export function loadUiBundle(folder = UI_FOLDER): UiBundle {
  const files = readdirSync(folder)
    .filter((name) => name !== 'index.html' && CONTENT_TYPES[extname(name)])
    .sort();
  const hash = createHash('sha256');
  const sources = new Map<string, Buffer>();
  for (const name of files) {
    const content = readFileSync(join(folder, name));
    sources.set(name, content);
    hash.update(name).update('\0').update(content).update('\0');
  }
  const version = hash.digest('hex').slice(0, 12);
  const assets = new Map<string, Asset>();
  for (const [name, content] of sources) assets.set(name, compress(CONTENT_TYPES[extname(name)]!, content));
  const preloads = modulesImportedBy(ENTRY_MODULE, sources)
    .map((name) => `<link rel="modulepreload" href="/ui/__UI_VERSION__/${name}">`)
    .join('\n');
  const html = readFileSync(join(folder, 'index.html'), 'utf8')
    .replace('<!-- __UI_MODULE_PRELOADS__ -->', preloads)
    .replaceAll('__UI_VERSION__', version);
  return { version, page: compress(CONTENT_TYPES['.html']!, Buffer.from(html)), assets };
}

let shipped: UiBundle | undefined;

/** The files shipped with this process, read and compressed by the first app that serves them (tests build many apps). */
function shippedBundle(): UiBundle {
  shipped ??= loadUiBundle();
  return shipped;
}

/**
 * The web UI: the page at `/` and its files under `/ui/<version>/`. It is only a client of the public
 * API (the browser sends the user's key to /v1 itself); nothing here needs a key or touches the store.
 */
export function createUiRoutes(bundle: UiBundle = shippedBundle()) {
  const routes = new Hono<AppEnv>();
  // The page names the current asset version, so it must be revalidated on every load.
  routes.get('/', (c) => send(c, bundle.page, 'no-cache'));
  routes.get('/ui/:version/:file', (c) => {
    const asset = bundle.assets.get(c.req.param('file'));
    if (!asset || c.req.param('version') !== bundle.version) return c.notFound();
    return send(c, asset, 'public, max-age=31536000, immutable');
  });
  return routes;
}
