import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChaosUpstream, seeded, startChaosUpstream } from './helpers/chaos.ts';
import { runChaos } from './helpers/chaos-rounds.ts';

/**
 * "Nothing acknowledged is ever lost", on SQLite, the bounded version of `scripts/chaos.ts`: the real service
 * under a mixed load (stored creates, stored streams, metadata updates, deletes, lists, reads) is killed at
 * random moments (SIGKILL under load, while it starts and migrates a new file, while a retention sweep
 * deletes) or stopped (SIGTERM), restarted on the same file each time, and every acknowledged fact read back;
 * the file passes SQLite's and FTS5's integrity checks and holds no half-written completion; another key's
 * completions (its own project) stay out of the chaos key's sight through it all, and its own stay its. The seed is
 * random unless CHAOS_SEED sets it, and every failure names it: `CHAOS_SEED=N npx vitest run test/chaos.test.ts`.
 */
let upstream: ChaosUpstream;
let folder: string;

beforeEach(async () => {
  upstream = await startChaosUpstream();
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-chaos-'));
});

afterEach(async () => {
  await upstream.fake.close();
  rmSync(folder, { recursive: true, force: true });
});

describe('chaos on SQLite', () => {
  it('loses nothing acknowledged and leaves no half-written state, whatever moment the service is killed or stopped', { timeout: 120_000 }, async () => {
    const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
    const log: string[] = [];
    const model = await runChaos({
      databasePath: join(folder, 'completions.db'),
      upstream,
      rng: seeded(seed),
      rounds: 6,
      workers: 6,
      maxLoadMs: 1_000,
      log: (line) => log.push(line),
      kinds: ['kill-under-load', 'kill-under-load', 'kill-under-load', 'kill-at-start', 'kill-in-retention', 'term-under-load'],
    });
    const report = `seed ${seed} (CHAOS_SEED=${seed} replays it)\n${log.join('\n')}`;
    expect(model.findings, report).toEqual([]);
    // The load did reach the service: acknowledged creates, streams, updates and deletes to check.
    expect(model.counts.creates + model.counts.streams, report).toBeGreaterThan(0);
  });
});
