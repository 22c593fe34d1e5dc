import { createGenerator, PROJECTS } from './data.ts';
import { type BenchServer, runLoad, sequentialLatency, startBenchServer } from './http.ts';

/** A create request as the bench sends it: one realistic exchange's request, with the bench's key. */
export function createPost(authorization: string) {
  const body = JSON.stringify(createGenerator(2).exchange(0).request);
  return { method: 'POST' as const, body, headers: { authorization, 'content-type': 'application/json' } };
}

export type CreatePost = ReturnType<typeof createPost>;

/** Where the bench serves a bare proxy of creates (bench/serve.ts): undici to the same upstream, nothing else. */
export const BARE_PROXY_PATH = '/bare-proxy/chat/completions';

/**
 * Create-with-store against the instant upstream: 32 connections straight to
 * the upstream, through the bare proxy beside the service (the ceiling for any
 * proxy on this machine) and to the service, alternated, best of the rounds;
 * then one client's median through the service minus straight to the upstream,
 * and the same through the bare proxy. Also the service's CPU time per stored
 * create and per bare proxied request (the lowest round), steadier than the
 * rates on a shared machine.
 */
export async function measureCreates(
  server: BenchServer,
  upstreamUrl: string,
  post: CreatePost,
  { rounds, durationSeconds, latencyCount }: { rounds: number; durationSeconds: number; latencyCount: number },
) {
  let directBest = 0;
  let createBest = 0;
  let bareBest = 0;
  let cpuMicrosPerCreate = Infinity;
  let cpuMicrosPerBareProxy = Infinity;
  /** One load through the service's process: its rate and its CPU time per request. */
  const loadThrough = async (path: string) => {
    const cpuBefore = server.cpuSeconds();
    const run = await runLoad({ url: `${server.origin}${path}`, connections: 32, durationSeconds, ...post });
    if (run.non2xx + run.errors > 0) throw new Error(`${path}: ${run.non2xx} non-2xx, ${run.errors} errors`);
    return { rate: run.requestsPerSecond, cpuMicros: ((server.cpuSeconds() - cpuBefore) * 1e6) / run.requests };
  };
  for (let r = 0; r < rounds; r++) {
    const direct = await runLoad({ url: `${upstreamUrl}/chat/completions`, connections: 32, durationSeconds, ...post });
    directBest = Math.max(directBest, direct.requestsPerSecond);
    const bare = await loadThrough(BARE_PROXY_PATH);
    bareBest = Math.max(bareBest, bare.rate);
    cpuMicrosPerBareProxy = Math.min(cpuMicrosPerBareProxy, bare.cpuMicros);
    const create = await loadThrough('/v1/chat/completions');
    createBest = Math.max(createBest, create.rate);
    cpuMicrosPerCreate = Math.min(cpuMicrosPerCreate, create.cpuMicros);
  }
  const directLatency = await sequentialLatency(`${upstreamUrl}/chat/completions`, { count: latencyCount, ...post });
  const bareLatency = await sequentialLatency(`${server.origin}${BARE_PROXY_PATH}`, { count: latencyCount, ...post });
  const createLatency = await sequentialLatency(`${server.origin}/v1/chat/completions`, { count: latencyCount, ...post });
  return { createBest, directBest, bareBest, directLatency, bareLatency, createLatency, cpuMicrosPerCreate, cpuMicrosPerBareProxy };
}

/**
 * Stored creates per second with each SQLite `synchronous` setting: the
 * durability decision (FULL is the default while it costs under 15%). Each
 * round starts a server per setting on the same file, alternated, best of
 * each: other load on a shared machine only ever slows a round down.
 */
export async function createThroughputBySynchronous(
  databasePath: string,
  upstreamUrl: string,
  apiKey: string,
  post: CreatePost,
  { rounds, durationSeconds }: { rounds: number; durationSeconds: number },
): Promise<Record<'FULL' | 'NORMAL', number>> {
  const best = { FULL: 0, NORMAL: 0 };
  for (let r = 0; r < rounds; r++) {
    for (const synchronous of ['FULL', 'NORMAL'] as const) {
      const server = await startBenchServer(databasePath, upstreamUrl, `${apiKey}:${PROJECTS[0]}`, synchronous);
      try {
        const run = await runLoad({ url: `${server.origin}/v1/chat/completions`, connections: 32, durationSeconds, ...post });
        if (run.non2xx + run.errors > 0) throw new Error(`create (${synchronous}): ${run.non2xx} non-2xx, ${run.errors} errors`);
        best[synchronous] = Math.max(best[synchronous], run.requestsPerSecond);
      } finally {
        await server.stop();
      }
    }
  }
  return best;
}
