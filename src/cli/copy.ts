import { resolve } from 'node:path';
import { defineCommand } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { parseBatchSize } from './options.ts';
import { createProgress, rate } from './progress.ts';
import { maskDatabaseUrl, databaseUrlProblem } from '../db/database-url.ts';
import { openSourceStore, openStore } from './target.ts';
import { PROJECT_HASH_SECRET } from '../store/unstored-settings.ts';
import { markCopyFinished, markCopyUnfinished } from '../copy-mark.ts';
import { count, counted } from '../counts.ts';
import { checkCopySource, checkCopyTarget } from './unfinished-copy.ts';

const HELP = `Usage: stored-completions copy --from DATABASE_URL --to DATABASE_URL [options]

Copies a whole database into an empty one: every project's completions (with
their ids, storage times and message ids), the ids of deleted completions (so
old cursors keep working), and the settings, including the secret that turns
pass-through keys into projects (so every key sees the same completions in the
copy). It reads one consistent snapshot, so the service may go on running on
the source. The target must be empty: copy never merges. A copy that was
stopped (killed, a crash) leaves its target marked as unfinished; run again,
copy says so and how to start over.

Options:
  --from URL            the source database, as DATABASE_URL (a SQLite file path, or postgres://...)
  --to URL              the target database, created when missing
  --batch N             completions per transaction, 1 to 10000 (default 1000; fewer once they hold 32 MiB)
  -h, --help            this text

Example:
  stored-completions copy --from ./data/completions.db --to /backup/completions-copy.db`;

export const copyCommand = defineCommand({
  name: 'copy',
  summary: 'copy a whole database (every project, deleted ids, settings) into an empty one',
  help: HELP,
  options: { from: { type: 'string' }, to: { type: 'string' }, batch: { type: 'string' } },
  async run({ values }, context) {
    if (values.from === undefined || values.to === undefined) throw new UsageError('--from and --to are both required');
    // Checked before anything parses them: a URL that does not parse would be printed whole, password and all.
    for (const [option, url] of [['--from', values.from], ['--to', values.to]] as const) {
      const problem = databaseUrlProblem(url);
      if (problem !== undefined) throw new UsageError(`${option}: ${problem}`);
    }
    if (values.from !== ':memory:' && resolve(values.from) === resolve(values.to)) throw new UsageError('--from and --to name the same database');
    // Bounded as import's: a dump's batch is held whole, and `--batch 100000000` ran the tool out of memory. The dump
    // also ends a batch at 32 MiB of text (src/batch-text.ts), which --batch alone did not bound.
    const batchSize = parseBatchSize(values.batch, 1000);
    const source = await openSourceStore(values.from, '--from', undefined, 'refuse');
    try {
      await checkCopySource(source, values.from);
      const target = await openStore(values.to, undefined, '--to', 'refuse');
      try {
        await checkCopyTarget(target, values.to);
        // A service that answered a request with a key on the target made a secret of its own (unstored-settings.ts).
        const targetSecret = await target.getSetting(PROJECT_HASH_SECRET);
        await markCopyUnfinished(target, values.from);
        const progress = createProgress(context.stderr, 'copy');
        // Named as the summary names them: what a user deleted, not the store's word for it.
        const counts = { completions: 0, 'deleted ids': 0, settings: 0 };
        const startedAt = performance.now();
        for await (const batch of source.dump(batchSize)) {
          await target.restore(batch);
          for (const item of batch) counts[item.kind === 'completion' ? 'completions' : item.kind === 'tombstone' ? 'deleted ids' : 'settings']++;
          progress.update(counts);
        }
        // A service answering on the target meanwhile (the copy's own warning says to restart those after it) wrote
        // completions the copy did not: they sit under a project of the target's replaced secret, lost to their key,
        // and the copy would pass for a whole one. Left marked unfinished, as a stopped copy is.
        const held = await target.holdings();
        if (held.completions !== counts.completions || held.deletedIds !== counts['deleted ids']) {
          throw new CliError(
            `the target ${maskDatabaseUrl(values.to)} was written to during the copy (it holds ${counted(held.completions, 'completion')} and ${counted(held.deletedIds, 'deleted id')}, ` +
              `the copy wrote ${count(counts.completions)} and ${count(counts['deleted ids'])}): a service is running on it. Stop every service on the target, ` +
              'empty it, and run the copy again',
          );
        }
        await markCopyFinished(target);
        await target.settleSearchIndex(counts.completions);
        if (targetSecret !== undefined && (await target.getSetting(PROJECT_HASH_SECRET)) !== targetSecret) {
          progress.note(
            "the target's own key secret (made by a service that answered a request there) was replaced by the source's: " +
              'restart any service running on the target, or its keys will not see the copied completions',
          );
        }
        progress.finish(
          `copy: ${counted(counts.completions, 'completion')}, ${counted(counts['deleted ids'], 'deleted id')}, ${counted(counts.settings, 'setting')} in ${rate(counts.completions, startedAt)}`,
        );
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  },
});
