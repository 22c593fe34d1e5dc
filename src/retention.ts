import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Metrics } from './metrics.ts';
import type { Store } from './store/index.ts';

export interface RetentionOptions {
  store: Store;
  /** Completions stored longer ago than this many days are deleted; 0 keeps everything. */
  retentionDays: number;
  logger: Logger;
  metrics?: Metrics;
  /** The clock, in milliseconds like Date.now (tests move it). */
  now?: () => number;
  /** Completions per transaction: a request waits at most one batch for the database (measured here: 250 per batch about 11 ms median, 500 about 47 ms; the search index is folded apart from them, see deletedSinceFold). */
  batchSize?: number;
  /** Time between sweeps. */
  intervalMs?: number;
}

export interface Retention {
  /** Deletes every expired completion, a batch per transaction, yielding to requests between batches; resolves to how many. */
  sweep(): Promise<number>;
  /** Sweeps now and then every interval, in the background. Does nothing when retention is off. */
  start(): void;
  /** No new sweep starts, and a running one ends after its current batch. */
  stop(): void;
}

const SECONDS_PER_DAY = 86_400;

export function createRetention({
  store,
  retentionDays,
  logger,
  metrics,
  now = Date.now,
  batchSize = 250,
  intervalMs = 15 * 60_000,
}: RetentionOptions): Retention {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  /**
   * Completions deleted since the search index was last folded. FTS5's own fold of a segment a tenth deleted
   * (`deletemerge`) ran inside a delete's transaction and rewrote the whole segment at once (up to 1.6 s at 100,000
   * completions): SQLite migration 0011 turns it off, and the sweep folds the index itself once the completions
   * deleted since are a tenth of those left (settleSearchIndex: steps of 500 pages, each its own transaction).
   */
  let deletedSinceFold = 0;

  /** Runs `batch` until it does less than a batch (or the sweep stops), yielding to requests between two write transactions. */
  async function inBatches(batch: () => Promise<number>, counter: Counter | undefined): Promise<number> {
    let total = 0;
    while (!stopped) {
      const done = await batch();
      total += done;
      counter?.inc(done);
      if (done < batchSize) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return total;
  }

  async function sweep(): Promise<number> {
    if (retentionDays <= 0) return 0;
    const seconds = Math.floor(now() / 1000);
    const before = seconds - retentionDays * SECONDS_PER_DAY;
    const deleted = await inBatches(() => store.deleteExpired(before, batchSize, seconds), metrics?.retentionDeleted);
    // An expired completion's tombstone keeps a cursor naming it paging, and its id taken, for one more window: past
    // it, neither is anything retention promises, and the file stops growing. An explicit delete's is kept for good.
    const tombstonesPurged = await inBatches(() => store.purgeTombstones(before, batchSize), metrics?.retentionTombstonesPurged);
    deletedSinceFold += deleted;
    if (deletedSinceFold > 0 && !stopped && (await store.settleSearchIndex(deletedSinceFold))) deletedSinceFold = 0;
    if (deleted > 0 || tombstonesPurged > 0) logger.info({ deleted, tombstonesPurged, before, retentionDays }, 'retention sweep');
    return deleted;
  }

  function runInBackground(): void {
    if (running || stopped) return;
    running = sweep()
      .catch((err: unknown) => {
        // Stopped for shutdown: the database closed under the sweep's fold of the index (steps with turns between them).
        if (stopped) return 0;
        metrics?.databaseErrors.inc({ operation: 'deleteExpired' });
        logger.error({ err }, 'retention sweep failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
  }

  return {
    sweep,
    start() {
      if (retentionDays <= 0 || timer) return;
      runInBackground();
      timer = setInterval(runInBackground, intervalMs);
      // The sweep never keeps the process alive on its own.
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
