import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createAuthenticator, loadProjectHashSecret } from '../auth.ts';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { DatabaseOpenError } from '../db/open-errors.ts';
import { ApiError } from '../errors.ts';
import { isPostgresUrl } from '../db/database-url.ts';
import { openPostgres, PostgresStartError } from '../db/postgres-client.ts';
import { describeNewerSchema, type NewerSchema, newerPostgresSchema, newerSqliteSchema } from '../db/schema-version.ts';
import { createPostgresStore, createSqliteStore, type Store } from '../store/index.ts';
import { CliError, UsageError } from './errors.ts';

/** What the tool's PostgreSQL connections allow: a few connections, and long statements (it moves whole databases). */
const CLI_POSTGRES = { poolSize: 4, statementTimeoutMs: 600_000, connectTimeoutMs: 10_000, startupTimeoutMs: 10_000 };

/** The database a command works on, opened as the service opens it (migrations included): SQLite, or PostgreSQL for a postgres:// URL. */
export async function openStore(
  databaseUrl: string,
  synchronous: Config['sqliteSynchronous'] = 'NORMAL',
  what = 'DATABASE_URL',
  newerSchema: NewerSchemaAction = 'warn',
): Promise<Store> {
  // The opening errors name DATABASE_URL, as the service's do; copy's databases come from --from and --to, and an
  // operator told "DATABASE_URL: ... refused the connection" would look at the service's database, not the one typed.
  const named = (message: string) => new CliError(message.replace(/^DATABASE_URL: /, `${what}: `));
  // The service's `:memory:` lives in its own process: the tool's would be a new, empty one, so an import said "30
  // stored" into a database gone when it ended, and an export or copy found nothing. An option is a usage error.
  if (databaseUrl === ':memory:') {
    throw new CliError(
      `${what}: ':memory:' is a database only the process that opens it sees: this tool would work on a new empty one of its own, not the service's, and lose what it wrote when it ends; name a SQLite file or a PostgreSQL URL`,
      what === 'DATABASE_URL' ? 1 : 2,
    );
  }
  if (isPostgresUrl(databaseUrl)) {
    try {
      const db = await openPostgres(databaseUrl, CLI_POSTGRES);
      try {
        onNewerSchema(await newerPostgresSchema(db), what, newerSchema);
      } catch (err) {
        await db.close();
        throw err;
      }
      return createPostgresStore(db);
    } catch (err) {
      // Its message names the database with the password masked.
      if (err instanceof PostgresStartError) throw named(err.message);
      throw err;
    }
  }
  let db;
  try {
    // The tool reads and writes once through: the service's 64 MiB page cache would only add to its memory,
    // so it keeps 16 MiB (SQLITE_CACHE_SIZE_MB, which the tool does not read).
    db = openDatabase(databaseUrl, { synchronous, cacheSizeMb: CLI_CACHE_MB });
  } catch (err) {
    if (err instanceof DatabaseOpenError) throw named(err.message);
    throw err;
  }
  try {
    onNewerSchema(newerSqliteSchema(db), what, newerSchema);
  } catch (err) {
    db.close();
    throw err;
  }
  return createSqliteStore(db);
}

/**
 * The database a command reads from (export, copy's source): opened as openStore does, but a SQLite
 * file that does not exist is an error, not a new empty database. A mistyped path, or the default
 * `./data/completions.db` from another folder, would otherwise give an empty export or copy, exit 0,
 * and leave a stray database behind.
 */
export async function openSourceStore(
  databaseUrl: string,
  what: string,
  synchronous: Config['sqliteSynchronous'] = 'NORMAL',
  newerSchema: NewerSchemaAction = 'warn',
): Promise<Store> {
  if (!isPostgresUrl(databaseUrl) && databaseUrl !== ':memory:' && !existsSync(databaseUrl)) {
    throw new CliError(`${what}: no database at ${resolve(databaseUrl)} (nothing was created)`);
  }
  return openStore(databaseUrl, synchronous, what, newerSchema);
}

/**
 * What a command does with a database a newer version migrated (schema-version.ts): `copy` refuses (exit 1), as
 * it promises a whole database and would leave out what this version does not know; the others say so on standard
 * error and go on, as the service does, reading and writing what this version knows.
 */
export type NewerSchemaAction = 'refuse' | 'warn';

function onNewerSchema(newer: NewerSchema | undefined, what: string, action: NewerSchemaAction): void {
  if (newer === undefined) return;
  if (action === 'refuse') {
    throw new CliError(`${what}: ${describeNewerSchema(newer)}. Run the newer version's command: this one would leave out what it does not know`);
  }
  process.stderr.write(`${what}: warning: ${describeNewerSchema(newer)}; going on with what this version knows\n`);
}

/** SQLite page cache of the tool, in MiB. */
const CLI_CACHE_MB = 16;

/**
 * The project a command acts for: the one `--key` sees through the service
 * (the same derivation as src/auth.ts, in either tenancy mode), or the one
 * `--project` names, which must be one of API_KEYS' projects so that a typo
 * cannot create a project no key will ever see.
 */
export async function resolveProject(
  config: Config,
  store: Pick<Store, 'getOrCreateSetting'>,
  options: ProjectOptions,
): Promise<string> {
  checkProjectOptions(config, options);
  if (options.project !== undefined) return options.project;
  const authenticate = createAuthenticator({
    apiKeys: config.apiKeys,
    upstreamApiKey: config.upstreamApiKey,
    projectHashSecret: await loadProjectHashSecret(store),
  });
  try {
    return authenticate(`Bearer ${options.key}`).project;
  } catch (err) {
    if (err instanceof ApiError) throw new UsageError(`--key: ${err.message.replace(/ You can find.*$/, '')} It is not one of API_KEYS.`);
    throw err;
  }
}

type ProjectOptions = { key?: string | undefined; project?: string | undefined };

/** The usage errors of --key and --project, found before any database is opened. */
export function checkProjectOptions(config: Config, options: ProjectOptions): void {
  if ((options.key === undefined) === (options.project === undefined)) {
    throw new UsageError('say which project: --key KEY, --key-file PATH or --project NAME (one of them)');
  }
  if (options.project === undefined) return;
  if (!config.apiKeys) {
    throw new UsageError('--project needs API_KEYS (or API_KEYS_FILE): in pass-through mode a project is a hash of its key, so name it with --key');
  }
  const known = new Set(config.apiKeys.values());
  if (!known.has(options.project)) {
    throw new UsageError(`--project: '${options.project}' is not a project of API_KEYS (known: ${[...known].sort().join(', ')})`);
  }
}
