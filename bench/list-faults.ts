import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundle, SERVER_NODE_FLAGS } from '../scripts/build.mjs';
import { LIST_PATH, PROJECTS } from './data.ts';
import { runLoad, startInstantUpstream } from './http.ts';

/**
 * `npm exec tsx bench/list-faults.ts -- --database PATH [--seconds 5] [--rounds 2] [--path /ceiling]`: the list page
 * under 16 connections, with what the kernel counts for the service's process over each round (from /proc/PID/stat):
 * minor page faults, user and system CPU, per request; and its resident memory (VmRSS, VmHWM) after.
 * The service's environment is this process's, so `MALLOC_TRIM_THRESHOLD_=...` set here reaches it.
 */
const { values } = parseArgs({
  options: {
    database: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    path: { type: 'string', default: LIST_PATH },
  },
});
if (!values.database) throw new Error('--database: the path of a database `npm run bench -- --keep` seeded');

const API_KEY = 'sk-bench-project-a';
const upstream = await startInstantUpstream();
await bundle({ 'bench-serve.mjs': 'bench/serve.ts' });
const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bench-serve.mjs');
const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, entry, values.database, upstream.url, `${API_KEY}:${PROJECTS[0]}`], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [first] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
const { port } = JSON.parse(first) as { port: number };
const pid = child.pid!;
process.stderr.write(`[list-faults] service pid ${pid}\n`);

/** minflt, utime, stime (ticks of 1/100 s) of /proc/PID/stat. */
function stat() {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { minflt: Number(fields[7]), utime: Number(fields[11]), stime: Number(fields[12]) };
}
const statusKb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

const url = `http://127.0.0.1:${port}${values.path}`;
const headers = { authorization: `Bearer ${API_KEY}` };
try {
  await runLoad({ url, connections: 16, durationSeconds: 1, headers });
  for (let round = 0; round < Number(values.rounds); round++) {
    const before = stat();
    const load = await runLoad({ url, connections: 16, durationSeconds: Number(values.seconds), headers });
    const after = stat();
    if (load.non2xx !== 0 || load.errors !== 0) throw new Error(`${load.non2xx} non-2xx, ${load.errors} errors`);
    const perRequest = (ticks: number) => ((ticks * 10_000) / load.requests).toFixed(0);
    process.stdout.write(
      `${JSON.stringify({
        path: values.path,
        requestsPerSecond: Math.round(load.requestsPerSecond),
        faultsPerRequest: Number(((after.minflt - before.minflt) / load.requests).toFixed(3)),
        userUs: Number(perRequest(after.utime - before.utime)),
        systemUs: Number(perRequest(after.stime - before.stime)),
        rssMb: Math.round(statusKb('VmRSS') / 1024),
        peakRssMb: Math.round(statusKb('VmHWM') / 1024),
      })}\n`,
    );
  }
} finally {
  child.kill('SIGTERM');
  if (child.exitCode === null) await once(child, 'exit');
  await upstream.close();
}
