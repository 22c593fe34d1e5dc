import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInstancesChaos, type InstancesRoundKind } from './helpers/chaos-instances.ts';
import { type ChaosUpstream, seeded, startChaosUpstream } from './helpers/chaos.ts';
import { findPostgresBinaries, freePort, type PrivatePostgres, startPrivatePostgres } from './helpers/private-postgres.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases, REQUIRE_POSTGRES } from './helpers/test-database.ts';

/**
 * "Nothing acknowledged is ever lost", on PostgreSQL with several instances, the bounded version of
 * `scripts/chaos.ts --database`: the real service, two processes on one database, under a mixed load spread
 * over both (stored creates through the SDK and raw HTTP, stored streams, metadata updates, deletes, lists,
 * reads), has one instance killed (under load, or while it starts) or stopped, and PostgreSQL itself restarted
 * as after a crash, at random moments; every acknowledged fact is then read back from each instance, the
 * failures must have been OpenAI's 503, and the database holds no half-written completion. Another tenant's
 * completions, stored before the faults, must stay out of the chaos key's lists and retrieves on every instance.
 * The seed is random unless CHAOS_SEED sets it, and every failure names it.
 * The instance faults run on the TEST_POSTGRES_URL server; the restarts on a cluster of the test's own
 * (restarting the shared server would cut off the files running beside this one), as in postgres-instances.test.ts.
 */
const withServer = hasPostgresServer();
const withBinaries = findPostgresBinaries() !== undefined;
if (REQUIRE_POSTGRES && !withBinaries) throw new Error('REQUIRE_POSTGRES=1 but no PostgreSQL binaries under /usr/lib/postgresql');
if (!withServer) noteSkippedServerCases();

let upstream: ChaosUpstream;

beforeAll(async () => {
  upstream = await startChaosUpstream();
});

afterAll(async () => {
  await upstream?.fake.close();
});

async function chaos(databaseUrl: string, kinds: InstancesRoundKind[], restartDatabase?: () => Promise<void>): Promise<void> {
  const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
  const log: string[] = [];
  const model = await runInstancesChaos({
    databaseUrl,
    restartDatabase,
    instances: 2,
    upstream,
    rng: seeded(seed),
    rounds: 3,
    workers: 4,
    maxLoadMs: 500,
    log: (line) => log.push(line),
    kinds,
  });
  const report = `seed ${seed} (CHAOS_SEED=${seed} replays it)\n${log.join('\n')}`;
  expect(model.findings, report).toEqual([]);
  // The load did reach the service: acknowledged creates and streams to check.
  expect(model.counts.creates + model.counts.streams, report).toBeGreaterThan(0);
}

describe.skipIf(!withServer)('chaos on PostgreSQL: instances killed and stopped', () => {
  it('loses nothing acknowledged, whichever instance is killed or stopped at whatever moment', { timeout: 120_000 }, async () => {
    await chaos(await createTestDatabase(), ['kill-instance', 'kill-at-start', 'term-instance']);
  });
});

describe.skipIf(!withServer && !REQUIRE_POSTGRES)('chaos on PostgreSQL: the server restarted', () => {
  let cluster: PrivatePostgres;

  beforeAll(async () => {
    cluster = await startPrivatePostgres(await freePort());
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('loses nothing acknowledged when PostgreSQL crashes and restarts under load, and the instances recover by themselves', { timeout: 120_000 }, async () => {
    await chaos(cluster.url, ['restart-database', 'kill-instance'], () => cluster.crash());
  });
});
