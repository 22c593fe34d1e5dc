import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { pgMigrationsFolder } from '../../src/db/postgres-migrate.ts';
import type { SqlDatabase, SqlSession } from '../../src/db/sql-client.ts';

/** The migrations' content, so a cached data folder is used only while they are unchanged. */
function migrationsHash(): string {
  const hash = createHash('sha256');
  const walk = (folder: string) => {
    for (const name of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(folder, name.name);
      if (name.isDirectory()) walk(path);
      else hash.update(name.name).update(readFileSync(path));
    }
  };
  walk(pgMigrationsFolder);
  return hash.digest('hex').slice(0, 16);
}

/**
 * A fresh PGlite's initdb takes 15-20 s on a busy two-core machine; starting
 * from a copy of an initialized, migrated data folder takes a third of that.
 * The copy is kept in the temporary folder, shared by the test processes,
 * written once (atomically) per version of the migrations.
 */
async function startMigrated(): Promise<PGlite> {
  const cached = join(tmpdir(), `stored-completions-pglite-${migrationsHash()}.tar`);
  // int8 read as numbers, as the server pool does.
  const options = { parsers: { 20: Number } };
  if (existsSync(cached)) {
    const pglite = new PGlite({ ...options, loadDataDir: new Blob([readFileSync(cached)]) });
    await pglite.waitReady;
    return pglite;
  }
  const pglite = new PGlite(options);
  await migrate(drizzle({ client: pglite }), { migrationsFolder: pgMigrationsFolder });
  const dump = await pglite.dumpDataDir('none');
  const partial = `${cached}.${process.pid}`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, cached);
  return pglite;
}

/**
 * An embedded PostgreSQL (the real server compiled to WASM) behind the same
 * SqlDatabase the store uses on a server, with the real migrations applied.
 * Lets `npm test` run the PostgreSQL backend on a machine with no server.
 * It is one connection: statements and transactions take turns.
 */
export async function openPglite(): Promise<SqlDatabase> {
  const pglite = await startMigrated();
  const session = (client: Pick<PGlite, 'query'>): SqlSession => ({
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      return (await client.query<Row>(sql, params as unknown[])).rows;
    },
  });
  return {
    ...session(pglite),
    transaction: (work) => pglite.transaction((tx) => work(session(tx))),
    // PGlite is one connection: the snapshot is a transaction held open until released (its queries
    // run inside it, everyone else's wait).
    readSnapshot: async () => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const opened = new Promise<SqlSession>((resolve) => {
        void pglite.transaction(async (tx) => {
          resolve(session(tx));
          await released;
        });
      });
      const reserved = await opened;
      return {
        ...reserved,
        release: async () => release(),
      };
    },
    close: () => pglite.close(),
  };
}
