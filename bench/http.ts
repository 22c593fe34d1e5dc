import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { bundle, SERVER_NODE_FLAGS } from '../scripts/build.mjs';
import { listenOnLoopback } from '../test/helpers/fake-upstream.ts';
import { percentile, sortedCopy } from './stats.ts';

/** The service in a child process (bench/serve.ts, bundled into dist/bench-serve.mjs), its origin, and its memory as the kernel counts it. */
export interface BenchServer {
  origin: string;
  /** Resident memory now (VmRSS), in MB. */
  rssMb(): number;
  /** Highest resident memory so far (VmHWM), in MB. */
  peakRssMb(): number;
  /** CPU time the process has used so far (user + system), in seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** utime + stime of /proc/PID/stat, in clock ticks of 1/100 s (USER_HZ, 100 on Linux). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function startBenchServer(databasePath: string, upstreamUrl: string, apiKeys: string, synchronous = ''): Promise<BenchServer> {
  // Bundled as `npm start` bundles the service, so its memory and speed are the service's as users run it.
  await bundle({ 'bench-serve.mjs': 'bench/serve.ts' });
  const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bench-serve.mjs');
  // With the node options the service runs with everywhere (npm start, the image), and any a profile
  // needs (BENCH_SERVER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof": NODE_OPTIONS refuses --cpu-prof).
  const extraFlags = process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...extraFlags, entry, databasePath, upstreamUrl, apiKeys, synchronous], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, 'line')) as [string];
  const { port } = JSON.parse(first) as { port: number };
  const pid = child.pid!;
  return {
    origin: `http://127.0.0.1:${port}`,
    rssMb: () => statusMb(pid, 'VmRSS'),
    peakRssMb: () => statusMb(pid, 'VmHWM'),
    cpuSeconds: () => cpuSecondsOf(pid),
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/**
 * An upstream that answers at once with a fixed completion, a fresh id each
 * time: the create path's cost is then all ours.
 */
export async function startInstantUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const tail = JSON.stringify({
    object: 'chat.completion',
    created: 1_767_225_600,
    model: 'gpt-4o-2024-08-06',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Benchmarks measure; tests assert. '.repeat(12).trim(), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 80, completion_tokens: 96, total_tokens: 176 },
    service_tier: 'default',
    system_fingerprint: 'fp_bench',
  }).slice(1);
  let counter = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = `{"id":"chatcmpl-bench${process.pid}x${++counter}",${tail}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return listenOnLoopback(server);
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  /** Answers whose status was not `expectedStatus` (any other than 2xx when none was given). */
  unexpected: number;
  errors: number;
}

export async function runLoad(options: {
  url: string;
  connections: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The status every answer must have (a probe of an error path expects its error). */
  expectedStatus?: number;
}): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
  });
  // A window that finished nothing (a service that hung, a machine too loaded to answer) would otherwise report
  // 0 req/s and pass every check on non-2xx answers and errors: a stage the smoke run claims to prove never ran.
  if (result.requests.total === 0) throw new Error(`${options.method ?? 'GET'} ${options.url}: no request finished in ${options.durationSeconds} s`);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    unexpected:
      options.expectedStatus === undefined
        ? result.non2xx
        : result.requests.total - (result.statusCodeStats[String(options.expectedStatus)]?.count ?? 0),
    errors: result.errors,
  };
}

/**
 * Latency of one request at a time, to sub-millisecond precision (autocannon
 * rounds to whole milliseconds): the service's added latency is a difference
 * of two such medians.
 */
export async function sequentialLatency(url: string, options: { count: number; headers: Record<string, string>; body: string }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = () =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', agent, headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body) } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`${url}: status ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(options.body);
    });
  for (let i = 0; i < Math.min(100, options.count); i++) await send();
  const samples: number[] = [];
  for (let i = 0; i < options.count; i++) {
    const start = process.hrtime.bigint();
    await send();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  agent.destroy();
  const sorted = sortedCopy(samples);
  return { p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
}
