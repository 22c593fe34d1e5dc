import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, startBenchServer } from './http.ts';

/**
 * Issue 10's create target on PostgreSQL is a share of SQLite's figure in the
 * same run: a PostgreSQL run also takes SQLite's, with the same create load
 * and fake upstream, right after its own, against a service on a fresh SQLite
 * file (removed afterwards). Fresh means SQLite's indexes are small while
 * PostgreSQL's hold the seeded rows: the ratio it gives is a lower bound.
 * Best of `rounds`, as the PostgreSQL figure is.
 */
export async function sqliteCreatesBeside(
  upstreamUrl: string,
  apiKeys: string,
  post: { method: 'POST'; body: string; headers: Record<string, string> },
  options: { rounds: number; durationSeconds: number },
): Promise<number> {
  const folder = mkdtempSync(join(tmpdir(), 'stored-completions-bench-sqlite-'));
  const server = await startBenchServer(join(folder, 'bench.db'), upstreamUrl, apiKeys);
  try {
    let best = 0;
    for (let r = 0; r < options.rounds; r++) {
      const run = await runLoad({ url: `${server.origin}/v1/chat/completions`, connections: 32, durationSeconds: options.durationSeconds, ...post });
      if (run.non2xx + run.errors > 0) throw new Error(`create (SQLite beside): ${run.non2xx} non-2xx, ${run.errors} errors`);
      best = Math.max(best, run.requestsPerSecond);
    }
    return best;
  } finally {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}
