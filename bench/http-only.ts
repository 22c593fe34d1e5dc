import { parseArgs } from 'node:util';
import { PROJECTS } from './data.ts';
import { startBenchServer, startInstantUpstream } from './http.ts';
import { formatHttpOverhead, measureHttpOverhead, type Probe } from './http-overhead.ts';

/**
 * `npm run bench:http -- --database PATH [--seconds 5] [--rounds 3] [--only trivial,healthz]`: the HTTP
 * overhead figures of `npm run bench` alone, on a database it seeded and kept
 * (`npm run bench -- --rows 20000 --keep` prints the path), for quick
 * before/after comparisons while working on the request path.
 */
const { values } = parseArgs({
  options: {
    database: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
if (!values.database) throw new Error('--database: the path (or postgres:// URL) of a database `npm run bench -- --keep` seeded');

const API_KEY = 'sk-bench-project-a';
const upstream = await startInstantUpstream();
const server = await startBenchServer(values.database, upstream.url, `${API_KEY}:${PROJECTS[0]}`);
try {
  const overhead = await measureHttpOverhead(server, `Bearer ${API_KEY}`, {
    rounds: Number(values.rounds),
    durationSeconds: Number(values.seconds),
    only: values.only?.split(',') as Probe['name'][] | undefined,
  });
  process.stdout.write(`${formatHttpOverhead(overhead)}\n`);
} finally {
  await server.stop();
  await upstream.close();
}
