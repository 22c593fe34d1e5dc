import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { databaseUrlProblem } from './db/database-url.ts';

/**
 * The service's whole configuration, parsed once from the environment.
 * This module is the only reader of `process.env`; everything else receives a
 * `Config` from its caller, so tests build apps with whatever config they like.
 */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  upstreamBaseUrl: string;
  upstreamApiKey: string | undefined;
  /** key -> project; undefined means pass-through mode (any bearer key accepted). */
  apiKeys: Map<string, string> | undefined;
  storeDefault: boolean;
  upstreamForwardStore: boolean;
  upstreamTimeoutMs: number;
  bodyLimitBytes: number;
  /** The most JSON values a request body may hold (400 above): parsing costs by the value, not by the byte. */
  bodyLimitValues: number;
  /** The largest provider answer read into memory; a larger one is a 502. */
  upstreamResponseLimitBytes: number;
  shutdownGraceMs: number;
  /** How long a connection may take to send a request's line and headers, counted from when it opens or starts a request. */
  headersTimeoutMs: number;
  /** How long a connection may take to send a whole request, body included; a response is never cut by it. */
  requestTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between two requests. */
  keepAliveTimeoutMs: number;
  retentionDays: number;
  /** SQLite's `synchronous` (see db/client.ts): FULL also keeps acknowledged writes through an OS crash or power loss. */
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /** SQLite's page cache for the service's connection, in MiB: most of the memory a busy instance holds beyond Node's own. */
  sqliteCacheSizeMb: number;
  /** How long a SQLite write waits for the lock another process holds (another instance, an import, a backup) before its 503. */
  sqliteBusyTimeoutMs: number;
  /** How long /healthz reuses the result of its database write check. */
  healthCheckIntervalMs: number;
  /** PostgreSQL only (DATABASE_URL postgres://...): connections each instance keeps at most. */
  databasePoolSize: number;
  /** PostgreSQL only: a query running longer is cancelled (the request gets a 503). */
  databaseStatementTimeoutMs: number;
  /** PostgreSQL only: how long opening one connection may take. */
  databaseConnectTimeoutMs: number;
  /** PostgreSQL only: how long start-up keeps retrying an unreachable database before exiting. */
  databaseStartupTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** The web origins whose pages may call /v1 from a browser: any (`*`), or these only (none when empty). */
  corsOrigins: '*' | readonly string[];
}

/**
 * `*`, `none`, or origins separated by commas, each exactly as a browser sends it in `Origin`
 * (`https://app.example.com`, `http://localhost:3000`: a scheme, a host, a port only when not the default).
 */
const corsOriginsString = z
  .string()
  .transform((text, ctx): '*' | string[] => {
    const trimmed = text.trim();
    if (trimmed === '*') return '*';
    if (trimmed.toLowerCase() === 'none') return [];
    const origins = trimmed.split(',').map((origin) => origin.trim());
    for (const origin of origins) {
      let canonical: string | undefined;
      try {
        canonical = new URL(origin).origin;
      } catch {
        // Reported below.
      }
      if (canonical !== origin || !/^https?:\/\//.test(origin)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected *, none, or origins such as https://app.example.com separated by commas (scheme and host, no path or trailing slash), got '${origin}'`,
        });
        return z.NEVER;
      }
    }
    return origins;
  });

// Any case, as LOG_LEVEL and SQLITE_SYNCHRONOUS: `.env` files write True and YES as often as true.
const booleanString = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false (also 1 or 0, yes or no, in any case)' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const integerString = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'expected a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const envSchema = z.object({
  PORT: integerString(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .min(1)
    .default('./data/completions.db')
    .superRefine((url, ctx) => {
      const problem = databaseUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  UPSTREAM_BASE_URL: z
    .url({ protocol: /^https?$/, message: 'expected an http(s) URL' })
    .default('https://api.openai.com/v1')
    // Run even when the URL check above failed (zod goes on to refinements): a URL that does not parse is that check's.
    .refine((u) => {
      const url = URL.canParse(u) ? new URL(u) : undefined;
      return url === undefined || (url.username === '' && url.password === '');
    }, "a user or password in the URL is not sent to the provider, which is called with a Bearer key (UPSTREAM_API_KEY, or the client's own): leave them out")
    // Trailing slashes of the path only: a query's value may end in one (`?redirect=/`).
    .transform((u) => (/[?#]/.test(u) ? u : u.replace(/\/+$/, ''))),
  // Sent as a header on every upstream call: a line break or a non-ASCII byte (a key pasted from a CRLF
  // file, say) would fail each call with a misleading 502, so it is refused at start instead.
  UPSTREAM_API_KEY: z
    .string()
    .regex(/^[\x21-\x7e]+$/, { message: 'expected a key of printable ASCII characters, without spaces or line breaks' })
    .optional(),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().min(1).optional(),
  STORE_DEFAULT: booleanString.default(false),
  UPSTREAM_FORWARD_STORE: booleanString.default(false),
  UPSTREAM_TIMEOUT_MS: integerString(1, 86_400_000).default(600_000),
  BODY_LIMIT_BYTES: integerString(1024, 1024 * 1024 * 1024).default(33_554_432),
  // 100,000 by measurement (docs/operations.md, "Request size"): a body of that many values of the costliest kind held
  // the service's thread for about 0.1-0.4 s of CPU, where 32 MiB of `{},` held it for 25 s; a 2,000-message conversation
  // of tool calls with 128 tools of ten-parameter schemas has 42,000.
  BODY_LIMIT_VALUES: integerString(100, 1_000_000_000).default(100_000),
  UPSTREAM_RESPONSE_LIMIT_BYTES: integerString(1024, 1024 * 1024 * 1024).default(67_108_864),
  SHUTDOWN_GRACE_MS: integerString(0, 3_600_000).default(30_000),
  HEADERS_TIMEOUT_MS: integerString(100, 3_600_000).default(10_000),
  REQUEST_TIMEOUT_MS: integerString(100, 3_600_000).default(120_000),
  KEEP_ALIVE_TIMEOUT_MS: integerString(100, 3_600_000).default(5_000),
  RETENTION_DAYS: integerString(0, 36_500).default(0),
  SQLITE_SYNCHRONOUS: z
    .string()
    .transform((v) => v.toUpperCase())
    .pipe(z.enum(['FULL', 'NORMAL'], { message: 'expected FULL or NORMAL' }))
    // NORMAL by measurement: FULL cost 34% of stored creates per second in `npm run bench` (docs/operations.md).
    .default('NORMAL'),
  // 16 MiB by measurement: at 64 MiB the page cache filled with the pages stored creates wrote, and the
  // service's peak memory in `npm run bench` passed 300 MB (bench/README.md); the operating system's file
  // cache still holds the rest of the database for reads.
  SQLITE_CACHE_SIZE_MB: integerString(1, 65_536).default(16),
  // The CLI's fixed wait (BUSY_TIMEOUT_MS in db/client.ts): long enough for another process's batch to commit.
  SQLITE_BUSY_TIMEOUT_MS: integerString(0, 3_600_000).default(5_000),
  HEALTH_CHECK_INTERVAL_MS: integerString(0, 3_600_000).default(5_000),
  DATABASE_POOL_SIZE: integerString(1, 1000).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: integerString(100, 3_600_000).default(30_000),
  DATABASE_CONNECT_TIMEOUT_MS: integerString(100, 600_000).default(5_000),
  DATABASE_STARTUP_TIMEOUT_MS: integerString(0, 3_600_000).default(60_000),
  LOG_LEVEL: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'expected fatal, error, warn, info, debug, trace or silent' }))
    .default('info'),
  CORS_ORIGINS: corsOriginsString.default('*'),
});

/** Every environment variable the service reads: the compose file must pass each one (test/compose.test.ts). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses `key:project` pairs, separated by commas or new lines; `#` starts a comment line.
 * A key named twice for different projects is refused: which tenant it belongs to must never be a guess.
 */
export function parseApiKeys(text: string, source: string, keys = new Map<string, string>()): Map<string, string> {
  let pairs = 0;
  for (const raw of text.split(/[,\n]/)) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.lastIndexOf(':');
    const key = entry.slice(0, colon).trim();
    const project = entry.slice(colon + 1).trim();
    if (colon <= 0 || key === '' || project === '') {
      throw new ConfigError(`${source}: expected key:project pairs, got an entry without a key or project`);
    }
    if (/\s/.test(key)) {
      // A bearer token has no spaces, so such a key could never be presented.
      throw new ConfigError(`${source}: a key contains whitespace`);
    }
    // U+00AD, the soft hyphen, is invisible: as unlikely to be meant as a zero-width space.
    if (!/^[\x21-\x7e\xa1-\xac\xae-\xff]+$/.test(key)) {
      // A header carries bytes, read as Latin-1: a key with a zero-width space, a control character or any
      // character past U+00FF could never match, and would be refused with no hint why. (An "é" matches
      // a client that sends its Latin-1 byte, as some do, though not one that sends UTF-8.)
      throw new ConfigError(`${source}: a key has a character no client could send as written (a control character, an invisible one, or one past U+00FF)`);
    }
    const known = keys.get(key);
    if (known !== undefined && known !== project) {
      throw new ConfigError(`${source}: a key is listed for two projects ('${known}' and '${project}')`);
    }
    keys.set(key, project);
    pairs++;
  }
  if (pairs === 0) throw new ConfigError(`${source}: no key:project pairs found`);
  return keys;
}

/** The keys of `API_KEYS` and the file `API_KEYS_FILE` names, read now; undefined when neither is set (pass-through). */
function readApiKeys(inline: string | undefined, file: string | undefined): Map<string, string> | undefined {
  let apiKeys: Map<string, string> | undefined;
  if (inline !== undefined) apiKeys = parseApiKeys(inline, 'API_KEYS');
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`API_KEYS_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
    apiKeys = parseApiKeys(text, 'API_KEYS_FILE', apiKeys);
  }
  return apiKeys;
}

/**
 * The keys again, as `loadConfig` read them at start (SIGHUP, server.ts): `API_KEYS_FILE` is read anew, so
 * a key removed from it is refused from then on. Throws ConfigError as at start.
 */
export function reloadApiKeys(env: Record<string, string | undefined> = process.env): Map<string, string> | undefined {
  const set = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  return readApiKeys(set('API_KEYS'), set('API_KEYS_FILE'));
}

/** Builds the config from an environment (process.env by default); throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "unset", as docker compose passes `VAR=` for missing values.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) {
    // The headers are part of the request: Node refuses a headers timeout longer than the request's.
    throw new ConfigError(
      `Invalid configuration:\n  HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS (${e.HEADERS_TIMEOUT_MS} > ${e.REQUEST_TIMEOUT_MS})`,
    );
  }

  const apiKeys = readApiKeys(e.API_KEYS, e.API_KEYS_FILE);

  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    upstreamBaseUrl: e.UPSTREAM_BASE_URL,
    upstreamApiKey: e.UPSTREAM_API_KEY,
    apiKeys,
    storeDefault: e.STORE_DEFAULT,
    upstreamForwardStore: e.UPSTREAM_FORWARD_STORE,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    bodyLimitValues: e.BODY_LIMIT_VALUES,
    upstreamResponseLimitBytes: e.UPSTREAM_RESPONSE_LIMIT_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    retentionDays: e.RETENTION_DAYS,
    sqliteSynchronous: e.SQLITE_SYNCHRONOUS,
    sqliteCacheSizeMb: e.SQLITE_CACHE_SIZE_MB,
    sqliteBusyTimeoutMs: e.SQLITE_BUSY_TIMEOUT_MS,
    healthCheckIntervalMs: e.HEALTH_CHECK_INTERVAL_MS,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    databaseConnectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    databaseStartupTimeoutMs: e.DATABASE_STARTUP_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    corsOrigins: e.CORS_ORIGINS,
  };
}
