import { ApiError } from './errors.ts';
import type { Store } from './store/index.ts';

export interface Health {
  ok: boolean;
  /** Why not, when not ok: the database's own error. */
  reason?: string;
  /** When ok but every connection of the pool is in use and requests wait for one: a load, which the database takes. */
  busy?: string;
}

/**
 * Readiness: can this instance do its job, which is storing completions? It
 * can when its database takes a write. The write is real (a committed one-row
 * write: see `checkWritable`), so the answer is kept for `intervalMs` and
 * probes in between, and concurrent ones, share it: a load balancer polling
 * every second costs one small commit every few seconds. The kept answer is
 * returned as it is, the one being checked as a promise.
 */
export function createHealthCheck(store: Pick<Store, 'checkWritable' | 'connectionUse'>, intervalMs: number): () => Health | Promise<Health> {
  let last: { at: number; health: Health } | undefined;
  let running: Promise<Health> | undefined;

  async function check(): Promise<Health> {
    try {
      // On PostgreSQL on a connection of its own: a pool all in use is not the database failing, and a balancer that
      // took every instance out when load peaked would turn the peak into an outage. Said, so the operator sees it.
      await store.checkWritable();
      const use = store.connectionUse?.();
      if (use && use.waiting > 0) {
        const inUse = use.size === 1 ? 'the pool\'s one connection in use' : `all ${use.size} connections of the pool in use`;
        const waiting = use.waiting === 1 ? '1 request waiting for it' : `${use.waiting} requests waiting for one`;
        return { ok: true, busy: `${inUse}, ${waiting}` };
      }
      return { ok: true };
    } catch (err) {
      // A refused password or a dropped database reaches here as the generic 503; its cause says which.
      const e = (err instanceof ApiError && err.cause instanceof Error ? err.cause : err) as { code?: string; message?: string };
      // A system error (ECONNREFUSED, ENOTFOUND) by its code alone: its message names the database's address, which an
      // unauthenticated probe need not learn (the log's warning has it).
      if (typeof e.code === 'string' && /^E[A-Z0-9_]+$/.test(e.code)) return { ok: false, reason: `the database cannot take a write (${e.code})` };
      return { ok: false, reason: `the database cannot take a write (${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)})` };
    }
  }

  return () => {
    // At once, not as a promise, while the last answer is fresh: most probes take this path.
    if (last && performance.now() - last.at < intervalMs) return last.health;
    running ??= check().then((health) => {
      last = { at: performance.now(), health };
      running = undefined;
      return health;
    });
    return running;
  };
}
