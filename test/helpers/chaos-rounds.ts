import Database from 'better-sqlite3';
import { type ChildServer, startChildServer } from './child-server.ts';
import { ChaosModel, checkFile, type ChaosUpstream, type Rng, runLoad, settle, verifyAll } from './chaos.ts';
import { checkOtherTenant, storeOtherTenant } from './chaos-tenants.ts';

/**
 * Rounds of the chaos driver on one SQLite file: each starts the real service (`dist/server.mjs`), checks
 * everything acknowledged so far, puts a mixed load on it and ends it at a random moment: SIGKILL under
 * load, SIGKILL while it starts (migrations on a new file), SIGKILL while a retention sweep deletes,
 * or SIGTERM under load (a graceful stop: nothing in flight may be cut).
 */
export type RoundKind = 'kill-under-load' | 'kill-at-start' | 'kill-in-retention' | 'term-under-load';

/** What a run of rounds takes, on either backend. */
export interface ChaosRunOptions {
  upstream: ChaosUpstream;
  rng: Rng;
  rounds: number;
  workers: number;
  /** The longest a load runs before its fault, in milliseconds. */
  maxLoadMs: number;
  /** A port per start, or 0 for any. */
  port?: () => number;
  log?: (line: string) => void;
}

export interface ChaosOptions extends ChaosRunOptions {
  databasePath: string;
  /** The kinds to draw from (all by default); the first round on a new file is always a kill at start. */
  kinds?: RoundKind[];
}

const ALL_KINDS: RoundKind[] = ['kill-under-load', 'kill-under-load', 'kill-under-load', 'kill-at-start', 'kill-in-retention', 'term-under-load'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosModel> {
  const { databasePath, upstream, rng, log = () => {} } = options;
  const model = new ChaosModel(upstream);
  const kinds = options.kinds ?? ALL_KINDS;
  const env = () => ({ RETENTION_DAYS: '1', SHUTDOWN_GRACE_MS: '20000', PORT: String(options.port?.() ?? 0) });
  /** Completions aged past retention by the last round: gone once the next start's sweep is done. */
  let expiring: ChaosModelKnown[] = [];
  /** The other tenant's completions (chaos-tenants.ts), once a start served long enough to store them. */
  let otherTenant: string[] | undefined;

  async function start(): Promise<ChildServer> {
    return startChildServer({ databasePath, upstreamUrl: upstream.fake.url, env: env() });
  }

  /** Whether a round so far put the load on the service: a run of starts and sweeps alone would check nothing acknowledged. */
  let loaded = false;
  const underLoad = (kind: RoundKind) => kind === 'kill-under-load' || kind === 'term-under-load';

  for (let round = 0; round < options.rounds; round++) {
    const last = round === options.rounds - 1;
    // The last round is drawn from the kinds under load when none was yet (1 seed in ~250 drew none, and failed the run).
    const drawnFrom = last && !loaded && kinds.some(underLoad) ? kinds.filter(underLoad) : kinds;
    const kind = round === 0 ? 'kill-at-start' : rng.pick(drawnFrom);
    if (underLoad(kind)) loaded = true;
    const when = `round ${round} (${kind})`;
    const findingsBefore = model.findings.length;
    checkFile(databasePath, model, `${when}, file before the start`);

    if (kind === 'kill-at-start') {
      const delay = rng.int(round === 0 ? 120 : 250);
      let killed: Promise<unknown> | undefined;
      const started = startChildServer({
        databasePath,
        upstreamUrl: upstream.fake.url,
        env: env(),
        onSpawn: (child) => {
          killed = sleep(delay).then(() => child.kill('SIGKILL'));
        },
      }).catch(() => undefined);
      const child = await started;
      await killed;
      if (child) await child.exited;
      log(`${when}: killed ${delay} ms after spawn, ${child ? 'after' : 'before'} it listened`);
      continue;
    }

    const child = await start();
    if (expiring.length > 0) {
      await waitUntilGone(child.origin, expiring, model, when);
      expiring = [];
    }
    await settle(child.origin, model);
    await verifyAll(child.origin, model, rng, `${when}, after the restart`);
    // Another project's completions, stored at the first start that serves: from then on every start checks them.
    if (otherTenant) await checkOtherTenant(child.origin, otherTenant, model, `${when}, after the restart`);
    else otherTenant = await storeOtherTenant(child.origin);

    if (kind === 'kill-in-retention') {
      // Age a third of the live completions past RETENTION_DAYS in the file, then kill the next start while it sweeps.
      child.process.kill('SIGTERM');
      await child.exited;
      const chosen = model.live().filter(() => rng.next() < 0.35);
      const db = new Database(databasePath);
      const age = db.prepare('UPDATE completions SET stored_at = ? WHERE id = ?');
      db.transaction(() => chosen.forEach((k) => age.run(Math.floor(Date.now() / 1000) - 3 * 86_400, k.id)))();
      db.close();
      for (const k of chosen) {
        k.state = 'maybe-deleted';
        k.busy = true;
      }
      expiring = chosen;
      const delay = rng.int(300);
      const sweeping = await startChildServer({
        databasePath,
        upstreamUrl: upstream.fake.url,
        env: env(),
        onSpawn: (p) => void sleep(delay).then(() => p.kill('SIGKILL')),
      }).catch(() => undefined);
      if (sweeping) await sweeping.exited;
      log(`${when}: ${chosen.length} aged, killed ${delay} ms after spawn`);
      continue;
    }

    const cutsBefore = model.cuts.length;
    let stopped = false;
    const delay = 30 + rng.int(options.maxLoadMs);
    const load = runLoad(child.origin, model, rng, { workers: options.workers, until: () => stopped, tag: `r${round}` });
    await sleep(delay);
    if (kind === 'term-under-load') {
      child.process.kill('SIGTERM');
      const exit = await child.exited;
      stopped = true;
      await load;
      if (exit.code !== 0) model.find(`${when}: SIGTERM exited ${JSON.stringify(exit)}`);
      const cuts = model.cuts.slice(cutsBefore);
      if (cuts.length > 0) model.find(`${when}: a graceful stop cut ${cuts.length} request(s) in flight: ${cuts.slice(0, 5).join(' | ')}`);
    } else {
      child.process.kill('SIGKILL');
      await child.exited;
      stopped = true;
      await load;
    }
    log(`${when}: stopped after ${delay} ms; ${JSON.stringify(model.counts)}; ${model.resets.length} reset(s) so far; ${model.findings.length - findingsBefore} new finding(s)`);
  }

  const last = await start();
  if (expiring.length > 0) await waitUntilGone(last.origin, expiring, model, 'last start');
  await settle(last.origin, model);
  await verifyAll(last.origin, model, rng, 'last start');
  // Every round may have been a kill at start: then the other tenant comes now, and is checked against the chaos key's whole list.
  otherTenant ??= await storeOtherTenant(last.origin);
  await checkOtherTenant(last.origin, otherTenant, model, 'last start');
  last.process.kill('SIGTERM');
  const exit = await last.exited;
  if (exit.code !== 0) model.find(`last start: SIGTERM exited ${JSON.stringify(exit)}`);
  checkFile(databasePath, model, 'after the last stop');
  return model;
}

type ChaosModelKnown = ReturnType<ChaosModel['live']>[number];

/** The start's sweep deletes every aged completion: each whole until then, each gone within 20 s. */
async function waitUntilGone(origin: string, aged: ChaosModelKnown[], model: ChaosModel, when: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const k of aged) {
    for (;;) {
      const res = await fetch(`${origin}/v1/chat/completions/${k.id}`, { headers: { authorization: 'Bearer sk-chaos-key-0001' } });
      if (res.status === 404) break;
      if (res.status !== 200) model.find(`${when}: aged ${k.id} answered ${res.status}`);
      if (Date.now() > deadline) {
        model.find(`${when}: aged ${k.id} still served 20 s after the start`);
        break;
      }
      await sleep(50);
    }
    k.state = 'deleted';
    k.busy = false;
  }
}
