import type { SqlDatabase } from '../../db/sql-client.ts';
import type { Store } from '../contract.ts';

type Settings = Pick<Store, 'getOrCreateSetting' | 'getSetting' | 'setSetting' | 'deleteSetting' | 'replaceSetting' | 'checkWritable'>;

/** The settings rows every instance shares (the project-hash secret, the marks a copy and a mirror leave), and the health check's write. */
export function createSettings(db: SqlDatabase): Settings {
  return {
    getOrCreateSetting: async (key, create) => {
      // The first instance to write wins; every instance then reads that one value.
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, create()]);
      const [row] = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
      return row!.value;
    },
    getSetting: async (key) => (await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))[0]?.value,
    setSetting: async (key, value) => {
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    },
    deleteSetting: async (key) => {
      await db.query('DELETE FROM settings WHERE key = $1', [key]);
    },
    replaceSetting: async (key, expected, value) => {
      // Each is one statement, so the row's lock decides between instances racing for it: one of them sees it changed.
      if (expected === undefined && value === undefined) return (await db.query('SELECT 1 FROM settings WHERE key = $1', [key])).length === 0;
      if (expected === undefined) {
        return (await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING 1', [key, value])).length === 1;
      }
      if (value === undefined) return (await db.query('DELETE FROM settings WHERE key = $1 AND value = $2 RETURNING 1', [key, expected])).length === 1;
      return (await db.query('UPDATE settings SET value = $1 WHERE key = $2 AND value = $3 RETURNING 1', [value, key, expected])).length === 1;
    },
    // A committed one-row write: only that proves the database can take one (the row is shared by every instance).
    // On a connection of its own: a pool all busy under load is not a database that cannot take a write.
    checkWritable: async () => {
      const own = db.apart ?? db;
      await own.query(
        "INSERT INTO settings (key, value) VALUES ('health_checked_at', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(Date.now())],
      );
      // The table every create writes: held by a lock (LOCK TABLE, a VACUUM FULL, a rewrite, a CREATE INDEX without
      // CONCURRENTLY), creates wait for the statement timeout and 503 while the settings row above still takes its
      // write. The lock an insert takes, taken and let go at once: a read's would pass a lock that lets reads by.
      await own.transaction(async (tx) => {
        await tx.query('LOCK TABLE completions IN ROW EXCLUSIVE MODE');
      });
    },
  };
}
