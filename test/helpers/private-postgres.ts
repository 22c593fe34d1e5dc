import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of the test's own (initdb in a temporary folder, its own
 * port), for the cases that stop and start the server: restarting the shared
 * test server would cut off the test files running beside this one. Uses the
 * installed server's binaries (`pg_ctl restart` is what `pg_ctlcluster restart` runs).
 */
export interface PrivatePostgres {
  /** `postgres://app:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  password: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server as a crash would (immediate mode: no checkpoint, the next start recovers from the WAL) and starts it again. */
  crash(): Promise<void>;
  /** Stops and deletes the cluster. */
  destroy(): Promise<void>;
}

/** The folder of the newest installed server's binaries, or undefined when none is installed. */
export function findPostgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

export async function startPrivatePostgres(port: number): Promise<PrivatePostgres> {
  const bin = findPostgresBinaries();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const folder = mkdtempSync(join(tmpdir(), 'private-postgres-'));
  chmodSync(folder, 0o777);
  const asRoot = process.getuid?.() === 0;
  // initdb and the server refuse to run as root: they run as the postgres user then.
  const pg = async (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const passwordFile = join(folder, 'password');
  writeFileSync(passwordFile, password);
  chmodSync(passwordFile, 0o644);
  const data = join(folder, 'data');
  await pg('initdb', ['-D', data, '-U', 'app', '--pwfile', passwordFile, '--auth-host=scram-sha-256', '--auth-local=trust', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = async () => {
    await pg('pg_ctl', ['-D', data, '-o', options, '-l', join(folder, 'log'), '-w', 'start']);
  };
  const stop = async (mode = 'fast') => {
    await pg('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
  };
  await start();
  return {
    url: `postgres://app:${password}@127.0.0.1:${port}/postgres`,
    password,
    start,
    stop: () => stop(),
    crash: async () => {
      await stop('immediate');
      await start();
    },
    destroy: async () => {
      await stop().catch(() => {});
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** A port free at the moment, for a cluster's own server (which takes a port number, not 0). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
