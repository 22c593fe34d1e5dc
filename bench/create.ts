import { createGenerator, PROJECTS } from './data.ts';
import { type BenchServer, runLoad, sequentialLatency, startBenchServer } from './http.ts';

/** A create request as the bench sends it: one realistic exchange's request, with the bench's key. */
export function createPost(authorization: string) {
  const body = JSON.stringify(createGenerator(2).exchange(0).request);
  return { method: 'POST' as const, body, headers: { authorization, 'content-type': 'application/json' } };
}

export type CreatePost = ReturnType<typeof createPost>;

/**
 * Create-with-store against the instant upstream: 32 connections to the
 * service and straight to the upstream, alternated, best of the rounds; then
 * one client's median through the service minus straight to the upstream.
 * Also the service's CPU time per stored create (the lowest round), steadier
 * than the rate on a shared machine.
 */
export async function measureCreates(
  server: BenchServer,
  upstreamUrl: string,
  post: CreatePost,
  { rounds, durationSeconds, latencyCount }: { rounds: number; durationSeconds: number; latencyCount: number },
) {
  let directBest = 0;
  let createBest = 0;
  let cpuMicrosPerCreate = Infinity;
  for (let r = 0; r < rounds; r++) {
    const direct = await runLoad({ url: `${upstreamUrl}/chat/completions`, connections: 32, durationSeconds, ...post });
    const cpuBefore = server.cpuSeconds();
    const create = await runLoad({ url: `${server.origin}/v1/chat/completions`, connections: 32, durationSeconds, ...post });
    if (create.non2xx + create.errors > 0) throw new Error(`create: ${create.non2xx} non-2xx, ${create.errors} errors`);
    directBest = Math.max(directBest, direct.requestsPerSecond);
    createBest = Math.max(createBest, create.requestsPerSecond);
    cpuMicrosPerCreate = Math.min(cpuMicrosPerCreate, ((server.cpuSeconds() - cpuBefore) * 1e6) / create.requests);
  }
  const directLatency = await sequentialLatency(`${upstreamUrl}/chat/completions`, { count: latencyCount, ...post });
  const createLatency = await sequentialLatency(`${server.origin}/v1/chat/completions`, { count: latencyCount, ...post });
  return { createBest, directBest, directLatency, createLatency, cpuMicrosPerCreate };
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
