import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './client.ts';

/**
 * WAL checkpoints off the event loop. SQLite's own (`wal_autocheckpoint`, every
 * 1,000 pages) run inside the commit that crosses the mark: that create waits
 * for the WAL to be copied into the database file and for two syncs of the
 * disk, and, better-sqlite3 being synchronous, so does every request the
 * process is serving. Here a worker thread with its own connection checkpoints
 * every `intervalMs` (PASSIVE: it never takes the write lock, so commits go on
 * meanwhile).
 *
 * The WAL starts over from its beginning only when a write begins while every
 * frame in it has been copied, which commits arriving without pause keep from
 * happening (a test saw it reach 14 MB in 1.5 s). So once the worker reports
 * the WAL at half of `backstopPages`, the next write of a stored create waits
 * (`beforeWrite`, the event loop serving on) for one more pass of the worker,
 * which then copies everything, and starts the WAL over. The main connection's
 * automatic checkpoint stays as a backstop at `backstopPages`, for a worker
 * that falls behind or dies (then SQLite's default mark returns).
 *
 * Durability is unchanged: a commit is in the WAL before it is acknowledged
 * whoever checkpoints it later, and the worker's connection syncs as the
 * main one does (same `synchronous`).
 *
 * A checkpoint that fails (a full disk: copying the WAL grows the file) does
 * not end the worker: SQLite's own checkpoints take over at their default mark
 * while it fails, and it tries again at every interval, so the service is back
 * to checkpointing off the event loop as soon as space is freed, not at its
 * next restart.
 */

export interface BackgroundCheckpointOptions {
  /** How often the worker checkpoints (a checkpoint with nothing new to copy costs a read of shared memory). */
  intervalMs?: number;
  /** The main connection's automatic checkpoint while the worker runs, in WAL pages. */
  backstopPages?: number;
  /** Told when a checkpoint starts failing or the worker ends; SQLite's own checkpoints then take over. */
  onError?: (err: unknown) => void;
  /** Told when the worker checkpoints again after failing. */
  onRecover?: () => void;
}

/** SQLite's default `wal_autocheckpoint`, restored when the worker is gone. */
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

/** The worker's whole program: plain CommonJS, so it runs the same from the bundle, from tsx and in tests. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('synchronous = ' + workerData.synchronous);
// A checkpoint copies frames from the WAL to the file without going through the page cache: keep it tiny.
db.pragma('cache_size = 16');
let reported = '';
/**
 * Checkpoints, and tells the main thread how full the WAL is when that changed or when asked;
 * a failure is told once (the first, and again only after a success), and tried again next time.
 */
function checkpoint(asked) {
  let report;
  try {
    const [{ log, checkpointed }] = db.pragma('wal_checkpoint(PASSIVE)');
    report = { log, checkpointed, asked };
  } catch (err) {
    report = { failed: { code: err.code, message: err.message }, asked };
  }
  const state = report.failed ? 'failed' : report.log + ' ' + report.checkpointed;
  if (!asked && state === reported) return;
  reported = state;
  parentPort.postMessage(report);
}
const timer = setInterval(() => checkpoint(false), workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'now') return checkpoint(true);
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** What the worker posts: how full the WAL is, or why its checkpoint failed; `asked` when it answers a `now`. */
type CheckpointReport =
  | { failed?: undefined; log: number; checkpointed: number; asked: boolean }
  | { failed: { code: string | undefined; message: string }; asked: boolean };

export interface BackgroundCheckpoints {
  /**
   * Undefined when a write may go ahead; when the WAL has grown to half the
   * backstop, a promise that settles once the worker has copied all of it
   * (or after a second, whatever happened), so that this write starts it over.
   */
  beforeWrite(): Promise<void> | undefined;
  /** Stops the worker and closes its connection; the main connection's automatic checkpoint returns to SQLite's default. */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing `db`'s WAL from a worker thread. The database must be a
 * file in WAL mode. The worker opens its connection on its own time: until it
 * has, SQLite's automatic checkpoint still runs at the backstop mark.
 */
export function startBackgroundCheckpoints(
  db: SqliteDatabase,
  { intervalMs = 100, backstopPages = 4000, onError, onRecover }: BackgroundCheckpointOptions = {},
): BackgroundCheckpoints {
  const synchronous = db.pragma('synchronous', { simple: true }) === 2 ? 'FULL' : 'NORMAL';
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      path: db.name,
      synchronous,
      intervalMs,
    },
    // A small heap: the worker allocates next to nothing.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
  });
  db.pragma(`wal_autocheckpoint = ${backstopPages}`);
  const restartPages = Math.floor(backstopPages / 2);
  let running = true;
  /** Whether the worker's last checkpoint failed: writes then do not wait for it, and SQLite checkpoints at its own mark. */
  let failing = false;
  /** Frames in the WAL at the worker's last report. */
  let walFrames = 0;
  let caughtUp: Promise<void> | undefined;
  let onAnswer: (() => void) | undefined;
  worker.on('message', (report: CheckpointReport) => {
    if (report.failed) {
      if (!failing && db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
      if (!failing) onError?.(Object.assign(new Error(report.failed.message), { code: report.failed.code }));
      failing = true;
    } else {
      if (failing && db.open) db.pragma(`wal_autocheckpoint = ${backstopPages}`);
      if (failing) onRecover?.();
      failing = false;
      walFrames = report.log;
    }
    if (report.asked) onAnswer?.();
  });
  // A worker that fails (the file gone, out of memory) or ends leaves checkpoints to SQLite again.
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', (err) => onError?.(err));
  void exited.then(() => {
    running = false;
    onAnswer?.();
    if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
  });
  // The worker never keeps the process alive by itself (a CLI run that ends without closing the store).
  worker.unref();
  return {
    beforeWrite() {
      if (!running || failing || walFrames < restartPages) return undefined;
      caughtUp ??= new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          onAnswer = undefined;
          caughtUp = undefined;
          // Started over by the write that waited; the worker's next report says for sure.
          walFrames = 0;
          resolve();
        };
        const timer = setTimeout(done, 1000);
        onAnswer = done;
        worker.postMessage('now');
      });
      return caughtUp;
    },
    async stop() {
      // Held while stopping, so that the caller's final checkpoint runs after it even when nothing else is left to do.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
