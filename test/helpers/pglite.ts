import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { pgMigrationsFolder } from '../../src/db/postgres-client.ts';
import type { SqlDatabase, SqlSession } from '../../src/db/sql-client.ts';

/**
 * An embedded PostgreSQL (the real server compiled to WASM) behind the same
 * SqlDatabase the store uses on a server, with the real migrations applied.
 * Lets `npm test` run the PostgreSQL backend on a machine with no server.
 * It is one connection: statements and transactions take turns.
 */
export async function openPglite(): Promise<SqlDatabase> {
  // int8 read as numbers, as the server pool does.
  const pglite = new PGlite({ parsers: { 20: Number } });
  await migrate(drizzle({ client: pglite }), { migrationsFolder: pgMigrationsFolder });
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
