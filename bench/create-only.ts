import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPost, createThroughputBySynchronous, measureCreates } from './create.ts';
import { PROJECTS } from './data.ts';
import { startBenchServer, startInstantUpstream } from './http.ts';
import { round } from './stats.ts';

/**
 * `npm run bench:create [-- --database PATH] [--seconds 5] [--rounds 3] [--count 1000] [--synchronous]`:
 * the create-with-store figures of `npm run bench` alone (rate at 32
 * connections, beside the bare proxy's, one client's added latency, the service's CPU per create and
 * its peak resident memory), on a new empty SQLite file unless `--database`
 * names one, for quick before/after comparisons on the create path.
 * `--synchronous` adds the FULL / NORMAL comparison.
 */
const { values } = parseArgs({
  options: {
    database: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    count: { type: 'string', default: '1000' },
    synchronous: { type: 'boolean', default: false },
  },
});

const API_KEY = 'sk-bench-project-a';
const folder = values.database ? undefined : mkdtempSync(join(tmpdir(), 'stored-completions-bench-create-'));
const databaseUrl = values.database ?? join(folder!, 'bench.db');
const durationSeconds = Number(values.seconds);
const rounds = Number(values.rounds);
const upstream = await startInstantUpstream();
const server = await startBenchServer(databaseUrl, upstream.url, `${API_KEY}:${PROJECTS[0]}`);
const post = createPost(`Bearer ${API_KEY}`);
try {
  const r = await measureCreates(server, upstream.url, post, { rounds, durationSeconds, latencyCount: Number(values.count) });
  const added = (through: { p50Ms: number }) => (through.p50Ms - r.directLatency.p50Ms).toFixed(3);
  const lines = [
    `create-with-store, 32 connections: ${Math.round(r.createBest)}/s (upstream alone ${Math.round(r.directBest)}/s = ${round(r.createBest / r.directBest, 3)})`,
    `bare proxy (Hono + undici, no store), 32 connections: ${Math.round(r.bareBest)}/s; creates / bare proxy = ${round(r.createBest / r.bareBest, 3)}`,
    `service CPU per request (lowest round): stored create ${Math.round(r.cpuMicrosPerCreate)} µs, bare proxy ${Math.round(r.cpuMicrosPerBareProxy)} µs (${round(r.cpuMicrosPerCreate / r.cpuMicrosPerBareProxy, 2)}x)`,
    `one client p50: ${r.directLatency.p50Ms.toFixed(3)} ms straight, ${r.bareLatency.p50Ms.toFixed(3)} ms through the bare proxy (added ${added(r.bareLatency)} ms), ${r.createLatency.p50Ms.toFixed(3)} ms through the service: added ${added(r.createLatency)} ms (p99 added ${(r.createLatency.p99Ms - r.directLatency.p99Ms).toFixed(3)} ms)`,
    `service resident memory: ${Math.round(server.rssMb())} MB now, ${Math.round(server.peakRssMb())} MB peak`,
  ];
  await server.stop();
  if (values.synchronous) {
    const bySynchronous = await createThroughputBySynchronous(databaseUrl, upstream.url, API_KEY, post, { rounds, durationSeconds });
    lines.push(`by SQLITE_SYNCHRONOUS: FULL ${Math.round(bySynchronous.FULL)}/s, NORMAL ${Math.round(bySynchronous.NORMAL)}/s (FULL costs ${round((1 - bySynchronous.FULL / bySynchronous.NORMAL) * 100, 1)}%)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await server.stop();
  await upstream.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
}
