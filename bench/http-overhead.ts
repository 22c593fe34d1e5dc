import { LIST_PATH } from './data.ts';
import { type BenchServer, type LoadResult, runLoad } from './http.ts';
import { markdownTable } from './stats.ts';

/**
 * What the service adds to each request over bare Hono in the same process
 * (bench/serve.ts serves both): each of our endpoints beside the bare endpoint
 * that is its ceiling, at 16 connections.
 * - the list page (20 items) against `/ceiling`, the same bytes from memory;
 * - `/healthz` through the whole middleware (request id, logging, metrics,
 *   routing) against `/trivial`; it answers from its cached check, so it does
 *   no database work between two checks (HEALTH_CHECK_INTERVAL_MS);
 * - an authenticated `/v1` request that does no database work against
 *   `/trivial`: the 404 for an unknown `/v1/stored-completions/` path. It runs
 *   the request id, logging, metrics, CORS, the key check, the routing and the
 *   error renderer, and nothing else: no route of ours under /v1 answers
 *   without the store or the provider.
 */
export const NO_DATABASE_V1_PATH = '/v1/stored-completions/bench-no-such-route';

export interface Probe {
  name: 'trivial' | 'ceiling' | 'list' | 'healthz' | 'v1';
  path: string;
  authenticated: boolean;
  expectedStatus: number;
}

export const PROBES: Probe[] = [
  { name: 'trivial', path: '/trivial', authenticated: false, expectedStatus: 200 },
  { name: 'ceiling', path: '/ceiling', authenticated: false, expectedStatus: 200 },
  { name: 'list', path: LIST_PATH, authenticated: true, expectedStatus: 200 },
  { name: 'healthz', path: '/healthz', authenticated: false, expectedStatus: 200 },
  { name: 'v1', path: NO_DATABASE_V1_PATH, authenticated: true, expectedStatus: 404 },
];

export interface ProbeResult extends LoadResult {
  /** The service's CPU time per request (user + system), in microseconds: the lowest of the rounds. */
  cpuMicrosPerRequest: number;
}

export type HttpOverhead = Record<Probe['name'], ProbeResult>;

/**
 * Every probe in turn, `rounds` times, the best round of each: other work on a
 * shared machine only ever slows a round down, and alternating spreads it over
 * all of them.
 */
export async function measureHttpOverhead(
  server: Pick<BenchServer, 'origin' | 'cpuSeconds'>,
  authorization: string,
  options: { rounds: number; durationSeconds: number; connections?: number; only?: Probe['name'][] },
): Promise<Partial<HttpOverhead>> {
  const best: Partial<HttpOverhead> = {};
  const probes = PROBES.filter((p) => !options.only || options.only.includes(p.name));
  const load = (probe: Probe, durationSeconds: number) =>
    runLoad({
      url: `${server.origin}${probe.path}`,
      connections: options.connections ?? 16,
      durationSeconds,
      headers: probe.authenticated ? { authorization } : undefined,
      expectedStatus: probe.expectedStatus,
    });
  // A second of each first, unrecorded: the first round would otherwise also time the JIT and a cold page cache.
  for (const probe of probes) await load(probe, 1);
  for (let r = 0; r < options.rounds; r++) {
    for (const probe of probes) {
      const cpuBefore = server.cpuSeconds();
      const result = await load(probe, options.durationSeconds);
      const run = { ...result, cpuMicrosPerRequest: ((server.cpuSeconds() - cpuBefore) * 1e6) / result.requests };
      if (run.unexpected + run.errors > 0) {
        throw new Error(`HTTP ${probe.path}: ${run.unexpected} answers other than ${probe.expectedStatus}, ${run.errors} errors`);
      }
      const previous = best[probe.name];
      if (!previous || run.requestsPerSecond > previous.requestsPerSecond) {
        best[probe.name] = { ...run, cpuMicrosPerRequest: Math.min(run.cpuMicrosPerRequest, previous?.cpuMicrosPerRequest ?? Infinity) };
      } else {
        previous.cpuMicrosPerRequest = Math.min(previous.cpuMicrosPerRequest, run.cpuMicrosPerRequest);
      }
    }
  }
  return best;
}

/** The targets of issue 13, as ratios of two throughputs taken in the same run. */
export const HTTP_TARGETS = { listOverCeiling: 0.4, healthzOverTrivial: 0.8, v1OverTrivial: 0.6 } as const;

/** The summary rows: measure, value, target. */
export function httpOverheadRows(o: Record<Probe['name'], Pick<ProbeResult, 'requestsPerSecond'>>): [string, string, string][] {
  type Throughput = Pick<ProbeResult, 'requestsPerSecond'>;
  const row = (measure: string, ours: Throughput, bare: Throughput, target: number): [string, string, string] => [
    measure,
    `${Math.round(ours.requestsPerSecond)} / ${Math.round(bare.requestsPerSecond)} req/s = ${(ours.requestsPerSecond / bare.requestsPerSecond).toFixed(2)}`,
    `>= ${target.toFixed(2)}`,
  ];
  return [
    row('HTTP list (20 items) / the same bytes from bare Hono, 16 connections', o.list, o.ceiling, HTTP_TARGETS.listOverCeiling),
    row('HTTP /healthz / trivial bare Hono JSON, 16 connections', o.healthz, o.trivial, HTTP_TARGETS.healthzOverTrivial),
    row('HTTP authenticated /v1 without database (404) / trivial, 16 connections', o.v1, o.trivial, HTTP_TARGETS.v1OverTrivial),
  ];
}

export function formatHttpOverhead(o: Partial<HttpOverhead>): string {
  const latency = markdownTable(
    ['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'service CPU µs/request'],
    PROBES.filter((p) => o[p.name]).map((p) => {
      const r = o[p.name]!;
      return [p.path, Math.round(r.requestsPerSecond), r.p50Ms, r.p99Ms, Math.round(r.cpuMicrosPerRequest)];
    }),
  );
  const complete = PROBES.every((p) => o[p.name]);
  return complete ? `${latency}\n\n${markdownTable(['measure', 'value', 'target'], httpOverheadRows(o as HttpOverhead))}` : latency;
}

/** One line of the service's CPU time per request for each probe: on a shared machine, steadier than requests per second. */
export function cpuPerRequestLine(o: Record<Probe['name'], Pick<ProbeResult, 'cpuMicrosPerRequest'>>): string {
  return `HTTP, the service's CPU time per request (user + system, µs; lowest round): ${PROBES.map((p) => `${p.path} ${Math.round(o[p.name].cpuMicrosPerRequest)}`).join(', ')}`;
}
