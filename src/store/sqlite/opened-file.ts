import { statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SqliteDatabase } from '../../db/client.ts';
import { ApiError } from '../../errors.ts';

/**
 * The file a SQLite store opened, and whether its path still names it. A file removed under a
 * running instance (or replaced by another: `mv backup.db completions.db`) is still written
 * through the open handle: every write acknowledged, all of it gone at the next start, which
 * opens whatever the path names then. Writes are refused instead, as a replaced PostgreSQL
 * database is: a 503, and `/healthz` says to restart.
 */
export interface OpenedFile {
  /** Throws the client's 503 when the path no longer names the file opened. One stat: a write transaction's cost is far above it. */
  assertStillOpened(): void;
  /**
   * Throws SQLite's own full-disk error when the file system has no block left for this process. The
   * health check's one-row write fits in pages the file already has, and would say ok while every
   * create that needs a new page fails.
   */
  assertDiskHasRoom(): void;
}

const ALWAYS_FINE: OpenedFile = { assertStillOpened() {}, assertDiskHasRoom() {} };

/** A file's identity: the same device and inode is the same file, whatever its path. */
function identityOf(path: string): string | undefined {
  const stats = statSync(path, { throwIfNoEntry: false });
  return stats === undefined ? undefined : `${stats.dev}:${stats.ino}`;
}

export function watchOpenedFile(db: SqliteDatabase): OpenedFile {
  // An in-memory database has no path to watch.
  if (db.memory) return ALWAYS_FINE;
  const path = resolve(db.name);
  const opened = identityOf(path);
  if (opened === undefined) return ALWAYS_FINE;
  // root may write into the blocks a file system keeps back; anyone else may not.
  const isRoot = process.getuid?.() === 0;
  return {
    assertStillOpened() {
      if (identityOf(path) === opened) return;
      throw ApiError.databaseUnavailable(
        new Error(`the database file ${path} was removed or replaced since this instance opened it: restart it`),
      );
    },
    assertDiskHasRoom() {
      const disk = statfsSync(dirname(path));
      if ((isRoot ? disk.bfree : disk.bavail) > 0) return;
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    },
  };
}
