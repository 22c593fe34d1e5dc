import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { SERVICE_ENTRY } from './helpers/child-server.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let folder: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-start-'));
  chmodSync(folder, 0o777);
});

afterEach(() => {
  spawnSync('umount', ['-l', join(folder, 'mnt')], { stdio: 'ignore' });
  rmSync(folder, { recursive: true, force: true });
});

interface Start {
  code: number | null;
  stderr: string;
  ms: number;
}

/** Starts the real entry point on DATABASE_URL and waits for it to exit (it is killed after 15 s: a start that hangs fails). */
function start(databaseUrl: string, user?: { uid: number; gid: number }): Promise<Start> {
  const started = performance.now();
  const child = spawn(process.execPath, [SERVICE_ENTRY], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A start that listens despite a bad database is a failure too: stop it.
  child.stdout.on('data', () => child.kill('SIGKILL'));
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolveStart) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolveStart({ code, stderr, ms: performance.now() - started });
    }),
  );
}

/** One line naming DATABASE_URL, the path and the cause; exit 1 within seconds; no stack trace. */
function expectOneLine(result: Start, path: string, cause: string): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toBe(`DATABASE_URL: cannot use ${path} as the SQLite database: ${cause}\n`);
  expect(result.ms).toBeLessThan(10_000);
}

describe('a DATABASE_URL the service cannot use stops the start with one line', () => {
  it('a file that is not a SQLite database', async () => {
    const path = join(folder, 'notes.db');
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(200));
    expectOneLine(
      await start(path),
      path,
      'it is not a SQLite database (or it is encrypted, or its header is damaged) (SQLITE_NOTADB: file is not a database)',
    );
    expect(readdirSync(folder)).toEqual(['notes.db']);
  });

  it('a SQLite database whose pages are corrupt', async () => {
    const path = join(folder, 'corrupt.db');
    openDatabase(path).close();
    // Page 1 (the header and the schema) stays; every table's pages become noise.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(64 * 1024, 0xa5), 0, 64 * 1024, 4096);
    closeSync(fd);
    expectOneLine(await start(path), path, 'the database file is corrupt (SQLITE_CORRUPT: database disk image is malformed)');
    expect(readdirSync(folder)).toEqual(['corrupt.db']);
  });

  it('a folder', async () => {
    const path = join(folder, 'completions.db');
    mkdirSync(path);
    expectOneLine(await start(path), path, 'it is a folder, not a file');
  });

  it('a path whose folder cannot be created', async () => {
    writeFileSync(join(folder, 'plain-file'), 'x');
    const path = join(folder, 'plain-file', 'data', 'completions.db');
    expectOneLine(
      await start(path),
      path,
      `its folder ${join(folder, 'plain-file', 'data')} cannot be created (ENOTDIR: not a directory, mkdir '${join(folder, 'plain-file', 'data')}')`,
    );
  });

  it('a path under /proc (this once spun at full CPU forever)', async () => {
    expectOneLine(
      await start('/proc/no-such-folder/completions.db'),
      '/proc/no-such-folder/completions.db',
      "its folder /proc/no-such-folder cannot be created (ENOENT: no such file or directory, mkdir '/proc/no-such-folder')",
    );
  });

  it('a device, not a file', async () => {
    expectOneLine(await start('/dev/null'), '/dev/null', 'it is not a regular file');
  });

  it('a database file the service user cannot write, leaving no -wal or -shm behind', async (context) => {
    const path = join(folder, 'completions.db');
    openDatabase(path).close();
    chmodSync(path, 0o644);
    // As root (CI), the service runs as nobody, as a container's user meets a file a root shell created.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(path, 0o444);
    const result = await start(path, asRoot ? { uid: 65534, gid: 65534 } : undefined);
    if (asRoot && result.stderr.includes('EACCES') && !result.stderr.startsWith('DATABASE_URL')) context.skip('nobody cannot read the repository');
    expectOneLine(result, path, `the file cannot be read and written (EACCES: permission denied, access '${path}')`);
    expect(readdirSync(folder)).toEqual(['completions.db']);
    // Once the mode is fixed, the next start works: nothing left behind stands in its way.
    chmodSync(path, 0o666);
    const fixed = await start(path, asRoot ? { uid: 65534, gid: 65534 } : undefined);
    expect(fixed.stderr).toBe('');
  });

  it('a database on a read-only file system', async (context) => {
    const mount = join(folder, 'mnt');
    mkdirSync(mount);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]).status !== 0) {
      context.skip('cannot mount a tmpfs here (needs root); CI runs as root');
    }
    const path = join(mount, 'completions.db');
    openDatabase(path).close();
    expect(spawnSync('mount', ['-o', 'remount,ro', mount]).status).toBe(0);
    expectOneLine(await start(path), path, `the file cannot be read and written (EROFS: read-only file system, access '${path}')`);
    expect(readdirSync(mount)).toEqual(['completions.db']);
  });
});

describe('a PostgreSQL DATABASE_URL with an unencoded # in its password', () => {
  it('stops the start at once with the percent-encoding line, never naming the password', async () => {
    // Parsed as written, this is password `p`, host `ss` and a fragment: the start retried on host `ss` for its
    // whole timeout, and every warning and the last error named `ss#w0rd`, the rest of the password.
    const result = await start('postgres://stored_completions_test:p@ss#w0rd@127.0.0.1:5432/stored_completions_test');
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe(
      'Invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)\n',
    );
    expect(result.stderr).not.toContain('ss#w0rd');
    expect(result.ms).toBeLessThan(10_000);
  });
});
