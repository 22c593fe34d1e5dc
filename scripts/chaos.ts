/**
 * The chaos driver, unbounded: `npx tsx scripts/chaos.ts [--seed N] [--rounds N] [--workers N] [--max-load-ms N]
 * [--folder DIR] [--first-port P] [--kinds kill-under-load,term-under-load,...]`. Runs rounds of kills and stops on one SQLite file (test/helpers/chaos-rounds.ts),
 * prints each round and every finding, and exits 1 when there is one. Needs `npm run build` first.
 *
 * With `--database postgres://...` (an empty database, or one only this driver wrote to), several instances
 * (`--instances`, 3) serve that database instead, and are killed and stopped one at a time under load
 * (test/helpers/chaos-instances.ts); with `--restart-command 'pg_ctlcluster 15 NAME restart -m immediate'`,
 * PostgreSQL is restarted under load too.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startChaosUpstream, seeded } from '../test/helpers/chaos.ts';
import { type InstancesRoundKind, runInstancesChaos } from '../test/helpers/chaos-instances.ts';
import { type RoundKind, runChaos } from '../test/helpers/chaos-rounds.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    rounds: { type: 'string', default: '20' },
    workers: { type: 'string', default: '12' },
    'max-load-ms': { type: 'string', default: '1500' },
    folder: { type: 'string' },
    'first-port': { type: 'string', default: '0' },
    'port-count': { type: 'string', default: '50' },
    kinds: { type: 'string' },
    database: { type: 'string' },
    instances: { type: 'string', default: '3' },
    'restart-command': { type: 'string' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const firstPort = Number(values['first-port']);
let nextPort = 0;
const common = {
  rng: seeded(seed),
  rounds: Number(values.rounds),
  workers: Number(values.workers),
  maxLoadMs: Number(values['max-load-ms']),
  port: firstPort > 0 ? () => firstPort + (nextPort++ % Number(values['port-count'])) : undefined,
  log: (line: string) => console.log(line),
};
const restartCommand = values['restart-command'];
const upstream = await startChaosUpstream();
try {
  let model;
  if (values.database) {
    console.log(`seed ${seed}, database ${values.database.replace(/:[^:@/]*@/, ':***@')}`);
    model = await runInstancesChaos({
      ...common,
      databaseUrl: values.database,
      instances: Number(values.instances),
      upstream,
      restartDatabase: restartCommand ? async () => void (await promisify(execFile)('sh', ['-c', restartCommand])) : undefined,
      ...(values.kinds ? { kinds: values.kinds.split(',') as InstancesRoundKind[] } : {}),
    });
  } else {
    const base = values.folder ?? tmpdir();
    mkdirSync(base, { recursive: true });
    const folder = mkdtempSync(join(base, 'chaos-'));
    console.log(`seed ${seed}, database ${join(folder, 'completions.db')}`);
    model = await runChaos({
      ...common,
      databasePath: join(folder, 'completions.db'),
      upstream,
      ...(values.kinds ? { kinds: values.kinds.split(',') as RoundKind[] } : {}),
    });
  }
  console.log(`seed ${seed}: ${model.known.size} completions, ${JSON.stringify(model.counts)}, ${model.findings.length} finding(s)`);
  for (const finding of model.findings) console.log(`FINDING ${finding}`);
  process.exitCode = model.findings.length > 0 ? 1 : 0;
} finally {
  await upstream.fake.close();
}
