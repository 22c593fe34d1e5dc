import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Why a SQLite file cannot serve, found before SQLite touches it where the
 * file system can tell, and in SQLite's own error otherwise: an operator
 * reading the one line printed at start should know what to fix.
 */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';

  constructor(path: string, cause: string) {
    super(`DATABASE_URL: cannot use ${path} as the SQLite database: ${cause}`);
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code && !e.message?.startsWith(e.code) ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

/**
 * Creates the folder level by level. Node's `mkdirSync(..., { recursive: true })`
 * loops forever where a folder that exists refuses children with ENOENT (under
 * /proc), which made such a start spin at full CPU.
 */
function createFolder(folder: string, path: string): void {
  const missing: string[] = [];
  let current = folder;
  while (!existsSync(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      throw new DatabaseOpenError(path, `its folder ${level} cannot be created (${reason(err)})`);
    }
  }
}

/** The checks the file system can answer: folder there or creatable, a regular file, both writable. */
export function checkDatabasePath(path: string): void {
  const folder = dirname(path);
  createFolder(folder, path);
  if (!statSync(folder).isDirectory()) throw new DatabaseOpenError(path, `${folder} is not a folder`);
  if (existsSync(path)) {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new DatabaseOpenError(path, 'it is a folder, not a file');
    if (!stat.isFile()) throw new DatabaseOpenError(path, 'it is not a regular file');
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch (err) {
      throw new DatabaseOpenError(path, `the file cannot be read and written (${reason(err)})`);
    }
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch (err) {
    // WAL mode keeps two files beside the database, so its folder must take new files.
    throw new DatabaseOpenError(path, `its folder ${folder} is not writable, and SQLite keeps -wal and -shm files there (${reason(err)})`);
  }
}

/** What SQLite's error means for an operator. */
const SQLITE_CAUSES: Record<string, string> = {
  SQLITE_NOTADB: 'it is not a SQLite database (or it is encrypted, or its header is damaged)',
  SQLITE_CORRUPT: 'the database file is corrupt',
  SQLITE_READONLY: 'the database is read-only',
  SQLITE_CANTOPEN: 'SQLite cannot open or create it here',
  SQLITE_FULL: 'the disk is full',
  SQLITE_BUSY: 'another process holds a lock on it and did not let go',
};

export function describeSqliteError(path: string, err: unknown): DatabaseOpenError {
  const code = (err as { code?: string }).code ?? '';
  const family = Object.keys(SQLITE_CAUSES).find((known) => code === known || code.startsWith(`${known}_`));
  const cause = family ? SQLITE_CAUSES[family] : code.startsWith('SQLITE_IOERR') ? 'the file cannot be read or written as a database' : 'SQLite refused it';
  return new DatabaseOpenError(path, `${cause} (${reason(err)})`);
}

/** The database and its WAL companions that do not exist yet, to remove if the start fails: nothing is left behind with the wrong owner or mode. */
export function filesToCleanUp(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`, `${path}-journal`].filter((file) => !existsSync(file));
}

/**
 * Removes what a failed open created. Not after a lock timeout: then another
 * process is using the file, and what it created is its own.
 */
export function removeCreatedFiles(files: string[], err: unknown): void {
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return;
  for (const file of files) rmSync(file, { force: true });
}

