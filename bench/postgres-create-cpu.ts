import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { bundle, SERVER_NODE_FLAGS } from '../scripts/build.mjs';
import { createPost } from './create.ts';
import { PROJECTS } from './data.ts';
import { runLoad, startInstantUpstream } from './http.ts';

/**
 * `npx tsx bench/postgres-create-cpu.ts --database postgres://.../db [--serve a.mjs --serve b.mjs] [--rounds 4] [--seconds 5]`:
 * stored creates at 32 connections on PostgreSQL, each service (a bundle of bench/serve.ts; this tree's
 * by default) in turn, then a fresh SQLite file, alternated round by round, so that before and after
 * see the same minutes. For each round: the rate, the service's CPU per create, and PostgreSQL's
 * (the backends on that database, the WAL writer, checkpointer and background writer, from
 * /proc/PID/stat): where a create's cost goes, node or the server. Needs to read PostgreSQL's /proc
 * entries, so the server runs on this machine. `--database` given once per `--serve`, in the same order,
 * puts each service on its own database: a bundle whose migrations change how rows are stored (0006's
 * lz4) against one without them, each database at its own bundle's migrations.
 */
const { values } = parseArgs({
  options: {
    database: { type: 'string', multiple: true },
    serve: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
  },
});
if (!values.database) throw new Error('--database postgres://... is required');
const databaseUrls = values.database;

function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined; // gone since it was listed
  }
}

const admins = new Map<string, pg.Client>();
for (const url of new Set(databaseUrls)) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  admins.set(url, admin);
}

/** CPU seconds so far of each PostgreSQL process that serves this database or every database's writes. */
async function serverCpu(admin: pg.Client): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()
       AND (datname = current_database() OR backend_type IN ('walwriter', 'checkpointer', 'background writer'))`,
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const seconds = cpuSecondsOf(pid);
    if (seconds !== undefined) cpu.set(pid, seconds);
  }
  return cpu;
}

async function startService(entry: string, database: string, upstreamUrl: string) {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, entry, database, upstreamUrl, `${API_KEY}:${PROJECTS[0]}`, ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [first] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { port } = JSON.parse(first) as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

const API_KEY = 'sk-bench-project-a';
let entries = values.serve?.map((path) => resolve(path));
if (!entries) {
  await bundle({ 'bench-serve.mjs': 'bench/serve.ts' });
  entries = [resolve('dist/bench-serve.mjs')];
}
if (databaseUrls.length !== 1 && databaseUrls.length !== entries.length) throw new Error('--database once, or once per --serve');
const databaseOf = (index: number) => databaseUrls[databaseUrls.length === 1 ? 0 : index]!;
const folder = mkdtempSync(join(tmpdir(), 'stored-completions-pg-create-cpu-'));
const upstream = await startInstantUpstream();
const post = createPost(`Bearer ${API_KEY}`);
const services = [
  ...(await Promise.all(
    entries.map(async (entry, index) => ({
      name: `postgres ${entry}`,
      admin: admins.get(databaseOf(index)),
      ...(await startService(entry, databaseOf(index), upstream.url)),
    })),
  )),
  { name: 'sqlite (fresh file)', admin: undefined, ...(await startService(entries[0]!, join(folder, 'bench.db'), upstream.url)) },
];
try {
  const lines: string[] = ['round | service | creates/s | service CPU µs/create | PostgreSQL CPU µs/create | sum'];
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const service of services) {
      const nodeBefore = cpuSecondsOf(service.pid)!;
      const serverBefore = service.admin ? await serverCpu(service.admin) : new Map<number, number>();
      const run = await runLoad({ url: `${service.origin}/v1/chat/completions`, connections: 32, durationSeconds: Number(values.seconds), ...post });
      if (run.non2xx + run.errors > 0) throw new Error(`${service.name}: ${run.non2xx} non-2xx, ${run.errors} errors`);
      const nodeMicros = ((cpuSecondsOf(service.pid)! - nodeBefore) * 1e6) / run.requests;
      let serverMicros = 0;
      if (service.admin) {
        for (const [pid, seconds] of await serverCpu(service.admin)) serverMicros += seconds - (serverBefore.get(pid) ?? 0);
        serverMicros = (serverMicros * 1e6) / run.requests;
      }
      const line = `${round} | ${service.name} | ${Math.round(run.requestsPerSecond)} | ${Math.round(nodeMicros)} | ${Math.round(serverMicros)} | ${Math.round(nodeMicros + serverMicros)}`;
      process.stderr.write(`${line}\n`);
      lines.push(line);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const service of services) await service.stop();
  await upstream.close();
  for (const admin of admins.values()) await admin.end();
  rmSync(folder, { recursive: true, force: true });
}
