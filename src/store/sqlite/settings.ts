import type Database from 'better-sqlite3';
import type { Store } from '../contract.ts';
import type { SqliteParts } from './parts.ts';

type Settings = Pick<Store, 'getOrCreateSetting' | 'getSetting' | 'setSetting' | 'deleteSetting' | 'replaceSetting' | 'checkWritable'>;

/** The settings rows (the project-hash secret, the marks a copy and a mirror leave), and the health check's write. */
export function createSettings({ prepare, file, whenLockFree }: SqliteParts): Settings {
  /** One autocommit statement that writes, once the write lock is free. */
  function writeOne(sql: string, ...args: unknown[]): Promise<Database.RunResult> {
    return whenLockFree(() => prepare(sql).run(...args));
  }

  return {
    getSetting: async (key) => (prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value,
    setSetting: async (key, value) => {
      await writeOne('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    },
    deleteSetting: async (key) => {
      await writeOne('DELETE FROM settings WHERE key = ?', key);
    },
    replaceSetting: async (key, expected, value) => {
      if (expected === undefined && value === undefined) return prepare('SELECT 1 FROM settings WHERE key = ?').get(key) === undefined;
      if (expected === undefined) return (await writeOne('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)', key, value)).changes === 1;
      if (value === undefined) return (await writeOne('DELETE FROM settings WHERE key = ? AND value = ?', key, expected)).changes === 1;
      return (await writeOne('UPDATE settings SET value = ? WHERE key = ? AND value = ?', value, key, expected)).changes === 1;
    },
    getOrCreateSetting: async (key, create) => {
      await writeOne('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)', key, create());
      return (prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string }).value;
    },
    checkWritable: async () => {
      file.assertStillOpened();
      file.assertDiskHasRoom();
      await writeOne("INSERT INTO settings (key, value) VALUES ('health_checked_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", String(Date.now()));
    },
  };
}
