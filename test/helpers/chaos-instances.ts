import pg from 'pg';
import { type ChildServer, startChildServer } from './child-server.ts';
import { ChaosModel, checkUsage, type Rng, runLoad, settle, verifyAll } from './chaos.ts';
import { checkOtherTenant, storeOtherTenant } from './chaos-tenants.ts';
import type { ChaosRunOptions } from './chaos-rounds.ts';

/**
 * Rounds of the chaos driver on one PostgreSQL database served by several instances (`dist/server.mjs`
 * processes) at once: each round checks everything acknowledged so far (from every instance at the end), puts a mixed load
 * spread over the instances and, at a random moment under it, SIGKILLs one instance and starts it again,
 * SIGKILLs one while it starts, SIGTERMs one (a graceful stop: nothing in flight may be cut), or restarts
 * PostgreSQL itself (immediate mode: a crash, recovered from its WAL) while the instances serve on.
 */
export type InstancesRoundKind = 'kill-instance' | 'kill-at-start' | 'term-instance' | 'restart-database';

export interface InstancesChaosOptions extends ChaosRunOptions {
  /** A PostgreSQL URL: the database the instances share (migrated by the first start). */
  databaseUrl: string;
  /** Restarts the database server (for `restart-database`); without it, that kind is never drawn. */
  restartDatabase?: () => Promise<void>;
  instances: number;
  /** The kinds to draw from (all by default). A load runs as long after its fault as `maxLoadMs` allows before it. */
  kinds?: InstancesRoundKind[];
}

const ALL_KINDS: InstancesRoundKind[] = ['kill-instance', 'kill-instance', 'kill-at-start', 'term-instance', 'restart-database', 'restart-database'];

/** How long an instance may take to serve again after the database came back, unaided (scaling.md, "Faults"). */
const RECOVERY_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runInstancesChaos(options: InstancesChaosOptions): Promise<ChaosModel> {
  const { databaseUrl, upstream, rng } = options;
  const began = Date.now();
  const log = (line: string) => options.log?.(`${((Date.now() - began) / 1000).toFixed(1)} s: ${line}`);
  const model = new ChaosModel(upstream, true);
  const kinds = (options.kinds ?? ALL_KINDS).filter((kind) => kind !== 'restart-database' || options.restartDatabase);
  // Short database timeouts, so a request the restart catches is answered within seconds; /healthz asks every time.
  const env = () => ({
    PORT: String(options.port?.() ?? 0),
    SHUTDOWN_GRACE_MS: '20000',
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_STATEMENT_TIMEOUT_MS: '3000',
    HEALTH_CHECK_INTERVAL_MS: '0',
  });
  const start = async (onSpawn?: Parameters<typeof startChildServer>[0]['onSpawn']): Promise<ChildServer> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startChildServer({ databasePath: databaseUrl, upstreamUrl: upstream.fake.url, env: env(), onSpawn });
      } catch (err) {
        // A port of a fixed range can be taken by a client connection's local end meanwhile: the next one then.
        if (!options.port || attempt === 5 || !/EADDRINUSE/.test(String(err))) throw err;
      }
    }
  };
  /** Every process started, for the log check at the end: none may have answered a 500. */
  const started: ChildServer[] = [];
  const instances: ChildServer[] = await Promise.all(Array.from({ length: options.instances }, () => start()));
  log(`${options.instances} instances started`);
  started.push(...instances);
  // Another tenant's few completions, stored before any fault: no instance may show them to the chaos key, whatever it went through.
  const otherTenant = await storeOtherTenant(instances[0]!.origin);
  /** The instances the load may use: one is taken out before it is signalled. */
  const up = new Set(instances);
  const origins = () => [...up].map((i) => i.origin);

  const restart = async (i: number) => {
    instances[i] = await start();
    started.push(instances[i]!);
    up.add(instances[i]!);
  };

  try {
    for (let round = 0; round < options.rounds; round++) {
      const kind = rng.pick(kinds);
      const when = `round ${round} (${kind})`;
      const findingsBefore = model.findings.length;
      await checkInstances(instances, model, rng, when, false);
      log(`${when}: ${model.known.size} completions checked`);

      const cutsBefore = model.cuts.length;
      let stopped = false;
      const load = runLoad({ origins }, model, rng, { workers: options.workers, until: () => stopped, tag: `r${round}` });
      const delay = 30 + rng.int(options.maxLoadMs);
      await sleep(delay);
      const i = rng.int(instances.length);
      const victim = instances[i]!;
      let what: string;
      if (kind === 'restart-database') {
        const restarting = Date.now();
        await options.restartDatabase!();
        what = `database restarted in ${Date.now() - restarting} ms`;
      } else {
        up.delete(victim);
        victim.process.kill(kind === 'term-instance' ? 'SIGTERM' : 'SIGKILL');
        const exit = await victim.exited;
        if (kind === 'term-instance') {
          if (exit.code !== 0) model.find(`${when}: SIGTERM exited ${JSON.stringify(exit)}`);
          const cuts = model.cuts.slice(cutsBefore);
          if (cuts.length > 0) model.find(`${when}: a graceful stop cut ${cuts.length} request(s) in flight: ${cuts.slice(0, 5).join(' | ')}`);
        }
        what = `instance ${i} ${kind === 'term-instance' ? 'stopped' : 'killed'}`;
        if (kind === 'kill-at-start') {
          // Started again and killed while it starts (connecting, migrating under the advisory lock, or just listening).
          const after = rng.int(400);
          const early = await start((child) => void sleep(after).then(() => child.kill('SIGKILL'))).catch(() => undefined);
          if (early) await early.exited;
          what += `, then again ${after} ms after its next spawn, ${early ? 'after' : 'before'} it listened`;
        }
        await restart(i);
      }
      // The load goes on a while after the fault: the instances recover under it, by themselves.
      await sleep(rng.int(options.maxLoadMs));
      stopped = true;
      await load;
      log(
        `${when}: after ${delay} ms, ${what}; ${JSON.stringify(model.counts)}; ${model.resets.length} reset(s) so far; ` +
          `${model.findings.length - findingsBefore} new finding(s)`,
      );
      for (const finding of model.findings.slice(findingsBefore)) log(`  ${finding}`);
    }
    await checkInstances(instances, model, rng, 'the end', true);
    for (const [i, instance] of instances.entries()) await checkOtherTenant(instance.origin, otherTenant, model, `the end, instance ${i}`);
    await checkDatabase(databaseUrl, model, 'the end');
    log(`the end: ${model.known.size} completions checked from every instance, and the database`);
  } finally {
    for (const instance of instances) instance.process.kill('SIGTERM');
    for (const [i, instance] of instances.entries()) {
      const exit = await instance.exited;
      if (exit.code !== 0) model.find(`the end: instance ${i} exited ${JSON.stringify(exit)} on SIGTERM`);
    }
  }
  const logs = started.flatMap((s) => s.logs);
  for (const line of logs.filter((line) => line.msg === 'unexpected error')) model.find(`an instance logged an unexpected error (a 500): ${JSON.stringify(line)}`);
  // What the 503s were: expected around a database restart; around an instance's kill, worth a look.
  const causes = new Set(logs.filter((line) => line.msg === 'database unavailable').map((line) => JSON.stringify(line.cause)));
  for (const cause of causes) log(`an instance logged 'database unavailable': ${cause}`);
  return model;
}

/**
 * Every instance serves again by itself (within RECOVERY_MS), the faults' open questions are settled, and every
 * acknowledged fact reads back the same (retrieves, messages, the whole list, search) from one instance drawn at
 * random, or (`everywhere`, at the end) from each: a read costs as much on any instance, and all share one database.
 */
async function checkInstances(instances: ChildServer[], model: ChaosModel, rng: Rng, when: string, everywhere: boolean): Promise<void> {
  for (const [i, instance] of instances.entries()) await waitUntilHealthy(instance.origin, model, `${when}, instance ${i}`);
  const drawn = rng.int(instances.length);
  await settle(instances[drawn]!.origin, model);
  for (const [i, instance] of instances.entries()) {
    if (everywhere || i === drawn) await verifyAll(instance.origin, model, rng, `${when}, seen from instance ${i}`);
  }
}

async function waitUntilHealthy(origin: string, model: ChaosModel, when: string): Promise<void> {
  const deadline = Date.now() + RECOVERY_MS;
  let last = '';
  while (Date.now() < deadline) {
    const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(RECOVERY_MS) });
    last = `${res.status} ${await res.text()}`;
    if (res.status === 200) return;
    await sleep(100);
  }
  model.find(`${when}: not healthy ${RECOVERY_MS} ms after the fault: ${last}`);
}

/** The database itself, read directly: no half-written completion, every derived row matching its completion. */
export async function checkDatabase(url: string, model: ChaosModel, when: string): Promise<void> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const q = async (sql: string) => (await db.query(sql)).rows as Record<string, unknown>[];
    const report = async (what: string, sql: string) => {
      const rows = await q(sql);
      if (rows.length > 0) model.find(`${when}: ${what}: ${JSON.stringify(rows.slice(0, 5))}`);
    };
    await report('completions without input messages', 'SELECT id FROM completions c WHERE NOT EXISTS (SELECT 1 FROM input_messages m WHERE m.completion_seq = c.seq)');
    await report('completions also tombstoned', 'SELECT c.id FROM completions c JOIN deleted_completions d ON d.project_id = c.project_id AND d.id = c.id');
    await report(
      'metadata rows without their pair in the completion',
      `SELECT m.completion_id, m.key, m.value FROM metadata m WHERE NOT EXISTS (SELECT 1 FROM completions c
         WHERE c.project_id = m.project_id AND c.id = m.completion_id AND c.created = m.created AND c.metadata::jsonb ->> m.key = m.value)`,
    );
    await report(
      'metadata pairs without their index row',
      `SELECT c.id, j.key FROM completions c, jsonb_each_text(c.metadata::jsonb) j WHERE NOT EXISTS (SELECT 1 FROM metadata m
         WHERE m.project_id = c.project_id AND m.completion_id = c.id AND m.key = j.key AND m.value = j.value AND m.created = c.created)`,
    );
    await report(
      'model rows without a completion',
      'SELECT completion_id FROM completion_models m WHERE NOT EXISTS (SELECT 1 FROM completions c WHERE c.project_id = m.project_id AND c.id = m.completion_id)',
    );
    await report(
      'completions without their model rows',
      `SELECT id FROM completions c WHERE NOT EXISTS (SELECT 1 FROM completion_models m WHERE m.project_id = c.project_id AND m.completion_id = c.id AND m.model = c.requested_model)
         OR NOT EXISTS (SELECT 1 FROM completion_models m WHERE m.project_id = c.project_id AND m.completion_id = c.id AND m.model = c.model)`,
    );
    checkUsage(
      await q('SELECT project_id, created, model, requested_model, prompt_tokens, completion_tokens, total_tokens FROM completions'),
      await q('SELECT * FROM usage_daily'),
      model,
      when,
    );
  } finally {
    await db.end();
  }
}
