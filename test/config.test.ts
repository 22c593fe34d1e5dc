import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { SERVICE_ENTRY } from './helpers/child-server.ts';
import { startFakeUpstream } from './helpers/fake-upstream.ts';
import { startService } from './helpers/service.ts';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: './data/completions.db',
      upstreamBaseUrl: 'https://api.openai.com/v1',
      upstreamApiKey: undefined,
      apiKeys: undefined,
      storeDefault: false,
      upstreamForwardStore: false,
      upstreamTimeoutMs: 600000,
      bodyLimitBytes: 33554432,
      bodyLimitValues: 100000,
      upstreamResponseLimitBytes: 67108864,
      shutdownGraceMs: 30000,
      headersTimeoutMs: 10000,
      requestTimeoutMs: 120000,
      keepAliveTimeoutMs: 5000,
      retentionDays: 0,
      sqliteSynchronous: 'NORMAL',
      sqliteCacheSizeMb: 16,
      sqliteBusyTimeoutMs: 5000,
      healthCheckIntervalMs: 5000,
      databasePoolSize: 10,
      databaseStatementTimeoutMs: 30000,
      databaseConnectTimeoutMs: 5000,
      databaseStartupTimeoutMs: 60000,
      logLevel: 'info',
      corsOrigins: '*',
    });
  });

  it('reads CORS_ORIGINS as *, none, or exact origins, and names one that is not', () => {
    expect(loadConfig({ CORS_ORIGINS: ' * ' }).corsOrigins).toBe('*');
    expect(loadConfig({ CORS_ORIGINS: 'None' }).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    // A browser's Origin never has a path, a trailing slash or a default port: such an entry would match nothing.
    for (const origin of ['https://app.example.com/', 'app.example.com', 'https://app.example.com:443', 'ftp://x.example', '']) {
      expect(() => loadConfig({ CORS_ORIGINS: `https://ok.example,${origin}` }), origin).toThrow(
        `CORS_ORIGINS: expected *, none, or origins such as https://app.example.com separated by commas (scheme and host, no path or trailing slash), got '${origin}'`,
      );
    }
  });

  it('reads API_KEYS and API_KEYS_FILE as key:project pairs', () => {
    const folder = mkdtempSync(join(tmpdir(), 'keys-'));
    try {
      const file = join(folder, 'keys.txt');
      writeFileSync(file, '# team keys\nsk-file-1:proj-c\n\nsk-file-2:proj-c\n');
      const config = loadConfig({ API_KEYS: 'sk-a:proj-a, sk-b:proj-b', API_KEYS_FILE: file });
      expect([...config.apiKeys!]).toEqual([
        ['sk-a', 'proj-a'],
        ['sk-b', 'proj-b'],
        ['sk-file-1', 'proj-c'],
        ['sk-file-2', 'proj-c'],
      ]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', STORE_DEFAULT: 'maybe', UPSTREAM_BASE_URL: 'ftp://x', LOG_LEVEL: 'loud' })).toThrow(
      /PORT: expected a whole number[\s\S]*UPSTREAM_BASE_URL: expected an http\(s\) URL[\s\S]*STORE_DEFAULT: expected true or false[\s\S]*LOG_LEVEL/,
    );
    expect(() => loadConfig({ STORE_DEFAULT: 'on' })).toThrow('STORE_DEFAULT: expected true or false (also 1 or 0, yes or no, in any case)');
    for (const [value, stored] of [['TRUE', true], ['True', true], ['YES', true], ['1', true], ['FALSE', false], ['No', false], ['0', false]] as const) {
      expect(loadConfig({ STORE_DEFAULT: value }).storeDefault, value).toBe(stored);
      expect(loadConfig({ UPSTREAM_FORWARD_STORE: value }).upstreamForwardStore, value).toBe(stored);
    }
    expect(() => loadConfig({ API_KEYS: 'no-project-here' })).toThrow(/API_KEYS: expected key:project pairs/);
    expect(() => loadConfig({ SQLITE_SYNCHRONOUS: 'OFF' })).toThrow(/SQLITE_SYNCHRONOUS: expected FULL or NORMAL/);
    expect(loadConfig({ SQLITE_SYNCHRONOUS: 'full' }).sqliteSynchronous).toBe('FULL');
    expect(() => loadConfig({ SQLITE_CACHE_SIZE_MB: '0' })).toThrow(/SQLITE_CACHE_SIZE_MB: /);
    expect(() => loadConfig({ SQLITE_CACHE_SIZE_MB: '16MB' })).toThrow(/SQLITE_CACHE_SIZE_MB: expected a whole number/);
    expect(() => loadConfig({ SQLITE_BUSY_TIMEOUT_MS: '5s' })).toThrow(/SQLITE_BUSY_TIMEOUT_MS: expected a whole number/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL: expected fatal, error, warn, info, debug, trace or silent');
    expect(loadConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    // A key with a line break (pasted from a CRLF file) or a non-ASCII byte could never be sent as a header.
    for (const key of ['sk-test\r', 'sk-test\n', 'sk test', 'sk-tëst', ' sk-test']) {
      expect(() => loadConfig({ UPSTREAM_API_KEY: key }), JSON.stringify(key)).toThrow(
        'UPSTREAM_API_KEY: expected a key of printable ASCII characters, without spaces or line breaks',
      );
    }
    expect(loadConfig({ UPSTREAM_API_KEY: 'sk-proj-AZaz09_-.~+/=' }).upstreamApiKey).toBe('sk-proj-AZaz09_-.~+/=');
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '30000' })).toThrow(
      'HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS (60000 > 30000)',
    );
  });

  it('SQLITE_SYNCHRONOUS, SQLITE_CACHE_SIZE_MB and SQLITE_BUSY_TIMEOUT_MS reach SQLite: NORMAL (1), 16 MiB and 5 s by default, what is set otherwise', async () => {
    const upstream = await startFakeUpstream();
    const cases = [
      [{}, 1, -16384, 5000],
      [{ SQLITE_SYNCHRONOUS: 'FULL', SQLITE_CACHE_SIZE_MB: '4', SQLITE_BUSY_TIMEOUT_MS: '250' }, 2, -4096, 250],
    ] as const;
    for (const [env, synchronous, cacheSizeKib, busyTimeoutMs] of cases) {
      const service = await startService({ upstreamUrl: upstream.url, env });
      try {
        expect(service.db.pragma('synchronous', { simple: true })).toBe(synchronous);
        // Negative: KiB rather than pages.
        expect(service.db.pragma('cache_size', { simple: true })).toBe(cacheSizeKib);
        expect(service.db.pragma('busy_timeout', { simple: true })).toBe(busyTimeoutMs);
      } finally {
        await service.close();
      }
    }
    await upstream.close();
  });

  it('refuses a PostgreSQL URL it cannot use without repeating its password', () => {
    const attempts = [
      'postgres://app:pa55word@:5432/db',
      'postgresql://app:pa55word@db/x?sslmode=sometimes',
      'postgres://app:pa55word@db:port/x',
      'postgres://app:pa55word@/x?host=/var/run/postgresql',
      'postgres://app:pa%ffword@db/x',
      'postgres://app:pa55word@db/data%e2%82',
      'postgres://app:8412/s3cretpw@db.internal/comp',
      'postgres://app:p%99%zz@db/x',
    ];
    const messages = attempts.map((url) => {
      try {
        loadConfig({ DATABASE_URL: url });
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(messages).toEqual([
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)',
      'Invalid configuration:\n  DATABASE_URL: sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, no-verify',
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)',
      'Invalid configuration:\n  DATABASE_URL: a postgres:// URL with a user needs a host (for a Unix socket: postgres://user:password@localhost/db?host=/var/run/postgresql)',
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (an escape in the user, password or database name that is not UTF-8 text, as %ff: %25 is a %)',
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (an escape in the user, password or database name that is not UTF-8 text, as %ff: %25 is a %)',
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)',
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (an escape in the user, password or database name that is not UTF-8 text, as %ff: %25 is a %)',
    ]);
    // A `%` that begins no escape is read by the driver as written: such a password worked, and still does.
    // And a database whose name holds an `@` is the driver's as it is.
    for (const url of ['postgres://pct:pa%word@127.0.0.1:5432/comp', 'postgres://app:100%@db/x', 'postgres://us%er:pw@db/data%zz', 'postgres://u:p@db/my@db']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
    expect(loadConfig({ DATABASE_URL: 'postgresql://app:pa55word@db.internal/x?sslmode=verify-full' }).databaseUrl).toBe(
      'postgresql://app:pa55word@db.internal/x?sslmode=verify-full',
    );
  });

  it('refuses a URL of another scheme (a mistyped postgres://) rather than taking it for a file path, never repeating its password', () => {
    const refused = (scheme: string) =>
      `Invalid configuration:\n  DATABASE_URL: unsupported scheme '${scheme}': give a postgres:// (or postgresql://) URL, or a SQLite file's path such as ./data/completions.db`;
    const attempts: [string, string][] = [
      ['postgress://app:s3cret-pw@db.internal:5432/x', 'postgress:'],
      ['pg://app:s3cret-pw@db.internal/x', 'pg:'],
      ['sqlite:///var/lib/completions.db', 'sqlite:'],
      ['mysql://app:s3cret-pw@db/x', 'mysql:'],
      ['postgres:/app:s3cret-pw@db.internal:5432/x', 'postgres:'],
      ['postgress:app:s3cret-pw@db.internal/x', 'postgress:'],
      ['sqlite:completions.db', 'sqlite:'],
      ['FILE:/tmp/x.db', 'FILE:'],
      ['file:x.db?mode=rwc', 'file:'],
      ['file:./data/x.db', 'file:'],
      ['file:///tmp/x.db', 'file:'],
    ];
    for (const [url, scheme] of attempts) {
      let message = 'accepted';
      try {
        loadConfig({ DATABASE_URL: url });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, url).toBe(refused(scheme));
    }
    const notAPath =
      "Invalid configuration:\n  DATABASE_URL: not a SQLite file's path nor a postgres:// URL (quotes, spaces around it, or a URL inside it): give a postgres:// (or postgresql://) URL, or a path such as ./data/completions.db";
    for (const url of ['"postgres://app:s3cret-pw@db/x"', ' postgres://app:s3cret-pw@db/x', 'jdbc:postgresql://app:s3cret-pw@db/x', './x.db ']) {
      expect(() => loadConfig({ DATABASE_URL: url }), url).toThrow(notAPath);
    }
    // Paths stay paths, colons and database-like names in them included.
    for (const path of ['./data/completions.db', '/var/lib/x.db', 'C:/data/x.db', 'backup-2026:12:06.db', 'pgdata:2026.db', './pg:data/x.db', 'sqlite3.db', ':memory:']) {
      expect(loadConfig({ DATABASE_URL: path }).databaseUrl).toBe(path);
    }
  });

  it('refuses a PostgreSQL URL with a # (a password with @ then # once parsed as another host and a fragment) without repeating its password', () => {
    const attempts = ['postgres://app:p@ss#w0rd@db.internal/x', 'postgres://app:pa55word@db.internal/x#primary', 'postgresql://app:pa55word@db.internal/x#'];
    for (const url of attempts) {
      let message = 'accepted';
      try {
        loadConfig({ DATABASE_URL: url });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, url).toBe('Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)');
    }
    // Percent-encoded, the same password is fine.
    expect(loadConfig({ DATABASE_URL: 'postgres://app:p%40ss%23w0rd@db.internal/x' }).databaseUrl).toBe('postgres://app:p%40ss%23w0rd@db.internal/x');
  });

  it('names a bad PostgreSQL setting', () => {
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '0', DATABASE_STATEMENT_TIMEOUT_MS: 'soon' })).toThrow(
      'Invalid configuration:\n  DATABASE_POOL_SIZE: Too small: expected number to be >=1\n  DATABASE_STATEMENT_TIMEOUT_MS: expected a whole number',
    );
  });

  it('stops the process at start with the message when a value is bad', () => {
    const result = spawnSync(process.execPath, [SERVICE_ENTRY], {
      env: { ...process.env, PORT: '99999', DATABASE_URL: ':memory:' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid configuration:\n  PORT:');
  });
});
