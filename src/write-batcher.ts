import { ApiError } from './errors.ts';
import type { CompletionRecord, Store } from './store/index.ts';

/** At most this many completions share one transaction. */
const MAX_BATCH = 256;

/**
 * How long after a write found the database unavailable a stored create is refused before the
 * provider is asked: the `retry-after` the 503 gives. Within it, asking would pay for a generation
 * that could not be stored. After it, the SDKs' retries come (at once, as they wait exactly the
 * `retry-after`), and the database is asked first whether it takes a write again (`checkWritable`):
 * a retry that went straight to the provider paid for a generation each time, three a call.
 */
export const UNAVAILABLE_HOLD_MS = 1000;

interface PendingWrite {
  project: string;
  record: CompletionRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for stored creates. Creates that finish in the same turn of the
 * event loop are written in one transaction: the commit is most of a write's
 * cost (with it, `npm run bench` went from ~780 to ~1,530 stored creates/s
 * on 32 connections). Each caller's
 * promise settles only after the commit that holds its completion, so a 200 is
 * still sent only for what is on disk. A batch that fails is retried one write
 * at a time, so one bad write fails alone; one that fails because the database
 * is unreachable (a 503) fails whole, at once.
 *
 * A create that is the only one under way (one client, or a quiet moment) commits at once instead: nothing
 * could join its batch, and the turn's wait was only latency. Under concurrency creates still wait for the
 * turn's end, whatever they are, as the first of a turn cannot know what the rest of it brings.
 */
export function createWriteBatcher(store: Pick<Store, 'saveCompletion' | 'saveCompletionBatch' | 'groupCommitsInFlight' | 'checkWritable'>) {
  /** SQLite has one writer: one flush at a time. PostgreSQL's pool lets several commits wait for the WAL's fsync at once. */
  const maxFlushes = store.groupCommitsInFlight ?? 1;
  let pending: PendingWrite[] = [];
  let scheduled = false;
  /** Flushes writing now; what arrives while all of them are busy waits and goes into the next batch. */
  let flushes = 0;
  /** The last write's 503 and when it came, until a write succeeds. */
  let unavailable: { err: ApiError; at: number } | undefined;
  /** The one write check past the hold, which every stored create arriving meanwhile waits for. */
  let checking: Promise<void> | undefined;
  /** Plain stored creates between their start and their answer (beginCreate, endCreate): the ones a save could wait for. */
  let createsUnderWay = 0;

  function noteFailure(err: unknown): void {
    if (err instanceof ApiError && err.status === 503) unavailable = { err, at: performance.now() };
  }

  async function writeOneByOne(writes: PendingWrite[]): Promise<void> {
    for (const write of writes) {
      try {
        await store.saveCompletion(write.project, write.record);
        unavailable = undefined;
        write.resolve();
      } catch (err) {
        noteFailure(err);
        write.reject(err);
      }
    }
  }

  /** Writes a batch; returns the 503 when the database could not take it, having failed the batch with it. */
  async function writeBatch(batch: PendingWrite[]): Promise<ApiError | undefined> {
    try {
      await store.saveCompletionBatch(batch.map((write) => [write.project, write.record]));
    } catch (err) {
      // The database being unreachable is no one write's fault: one at a time, each would wait out
      // the connect timeout again, and the last caller would wait for all of them.
      if (err instanceof ApiError && err.status === 503) {
        noteFailure(err);
        for (const write of batch) write.reject(err);
        return err;
      }
      await writeOneByOne(batch);
      return undefined;
    }
    unavailable = undefined;
    for (const write of batch) write.resolve();
    return undefined;
  }

  async function flush(): Promise<void> {
    scheduled = false;
    flushes++;
    try {
      while (pending.length > 0) {
        const writes = pending;
        pending = [];
        for (let start = 0; start < writes.length; start += MAX_BATCH) {
          const failed = await writeBatch(writes.slice(start, start + MAX_BATCH));
          if (!failed) continue;
          const behind = [...writes.slice(start + MAX_BATCH), ...pending];
          if (flushes > 1) {
            // Another group commit is in flight (PostgreSQL): its answer tells more than this one's 503 (a
            // statement timeout, one dead connection), so the writes behind this batch go to it.
            pending = behind;
            return;
          }
          // The writes queued behind it (the rest of this batch, and what came while it waited) fail with
          // it: each would wait out the timeouts again, and its client would hear of it long after the
          // 503's bound (DATABASE_STATEMENT_TIMEOUT_MS + DATABASE_CONNECT_TIMEOUT_MS) had passed.
          pending = [];
          for (const write of behind) write.reject(failed);
          break;
        }
      }
    } finally {
      flushes--;
    }
  }

  return {
    /**
     * Throws the last write's 503 while it is fresh (UNAVAILABLE_HOLD_MS) and no write has succeeded since.
     * Past it, a promise: resolved once the database has taken a write again, rejected with that 503 (held
     * for another UNAVAILABLE_HOLD_MS) if it still cannot. Nothing to wait for (undefined) otherwise, as on
     * every create while the database is well.
     */
    refuseWhileUnavailable(): Promise<void> | undefined {
      if (unavailable === undefined) return undefined;
      const { err, at } = unavailable;
      if (performance.now() - at < UNAVAILABLE_HOLD_MS) throw err;
      const since = performance.now();
      checking ??= store
        .checkWritable()
        .then(
          () => {
            // Unless a write failed again while it ran: that failure is newer than this check's answer.
            if (unavailable !== undefined && unavailable.at <= since) unavailable = undefined;
          },
          (checked: unknown) => {
            // Unless a write succeeded meanwhile, the hold starts again from this check, with its cause when it has one:
            // an outage's causes change (a server shutting down, then refusing connections, then starting up), and the
            // first one, kept, was what every 503 and the log named for as long as the outage lasted.
            if (unavailable === undefined) return;
            const err = checked instanceof ApiError && checked.status === 503 && checked.cause instanceof Error ? checked : unavailable.err;
            unavailable = { err, at: performance.now() };
          },
        )
        .finally(() => {
          checking = undefined;
        });
      return checking.then(() => {
        if (unavailable !== undefined) throw unavailable.err;
      });
    },
    /**
     * A write a stored create makes outside the batches (a stream's id held in the database, its completion
     * stored under it): its 503 starts the hold as a batch's does, and its success ends it when `endsHold`
     * (a write to another table than the completions' says nothing of theirs). Without it, stored streams on
     * PostgreSQL paid the provider for every call during an outage.
     */
    watch<T>(write: Promise<T>, endsHold = true): Promise<T> {
      return write.then(
        (answer) => {
          if (endsHold) unavailable = undefined;
          return answer;
        },
        (err: unknown) => {
          noteFailure(err);
          throw err;
        },
      );
    },
    /**
     * A plain stored create has begun (before its provider call) or ended (answered or failed): while exactly
     * one is under way and nothing else waits, its save commits without waiting for the turn's end. Streamed
     * creates are not counted: their saves always wait for it, so many streams ending together still share a commit.
     */
    beginCreate(): void {
      createsUnderWay++;
    },
    endCreate(): void {
      createsUnderWay--;
    },
    /** Resolves once the completion is committed; rejects when it could not be written. */
    save(project: string, record: CompletionRecord): Promise<void> {
      return new Promise((resolve, reject) => {
        pending.push({ project, record, resolve, reject });
        if (!scheduled && flushes < maxFlushes) {
          scheduled = true;
          if (pending.length === 1 && createsUnderWay === 1) void flush();
          else setImmediate(() => void flush());
        }
      });
    },
  };
}

export type WriteBatcher = ReturnType<typeof createWriteBatcher>;
