import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { unfinishedCopyIn } from '../copy-mark.ts';
import { EXPORT_FORMATS, type ExportFormat, SKIP_REASONS, type SkipReason } from '../export/formats.ts';
import { exportLines, type ExportTally, newTally } from '../export/run-export.ts';
import { defineCommand } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { FILTER_HELP, FILTER_OPTIONS, parseFilters, parsePositiveInteger, PROJECT_HELP, PROJECT_OPTIONS } from './options.ts';
import type { SortOrder } from '../validation.ts';
import { counted, createProgress, rate } from './progress.ts';
import { checkProjectOptions, openSourceStore, resolveProject } from './target.ts';

const HELP = `Usage: stored-completions export (--key KEY | --project NAME) [options]

Writes a project's stored completions as JSON lines, in (created, id) order.

Formats (--format):
  completions  each completion exactly as retrieve returns it, plus "input_messages"
               (every item of its messages endpoint); what \`import\` reads (default)
  finetune     OpenAI's chat fine-tuning lines: the input messages as sent, then the
               reply of one choice; completions that make no valid example (empty
               reply, refusal, cut off, unpaired tool calls) are skipped and counted
  eval         {"item": {id, model, input, output, metadata}} for an eval's JSONL data source

Options:
${PROJECT_HELP}
  --format FORMAT       completions | finetune | eval (default completions)
  --choice N            the choice finetune and eval lines are made of (default 0)
${FILTER_HELP}
  --limit N             at most N lines
  --after ID            start after this completion (resume a cut export from the last id it holds)
  --order asc|desc      oldest first (default) or newest first
  --out FILE            write to FILE instead of standard output (- is standard output)
  --append              add to the end of --out's FILE instead of replacing it (resuming with --after)
  -h, --help            this text

Example:
  stored-completions export --key sk-... --format finetune --model gpt-4o-mini \\
    --metadata env=prod --created-after 2025-01-01 --out train.jsonl`;

function parseFormat(text: string | undefined): ExportFormat {
  if (text === undefined) return 'completions';
  if ((EXPORT_FORMATS as readonly string[]).includes(text)) return text as ExportFormat;
  throw new UsageError(`--format: expected one of ${EXPORT_FORMATS.join(', ')}, got '${text}'`);
}

function parseOrder(text: string | undefined): SortOrder {
  if (text === undefined || text === 'asc' || text === 'desc') return text ?? 'asc';
  throw new UsageError(`--order: expected asc or desc, got '${text}'`);
}

/**
 * The summary's account of skipped completions: how many, and why, each reason by its code and what it means
 * (`29 for missing_choice (...)`, `1 for refusal (...)`): a bare `1 refusal` read as prose beside `29 missing_choice`.
 */
export function describeSkips(tally: ExportTally): string {
  const entries = Object.entries(tally.skipped) as [SkipReason, number][];
  if (entries.length === 0) return '';
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  return `; skipped ${total}: ${entries.map(([reason, n]) => `${n} for ${reason} (${SKIP_REASONS[reason]})`).join(', ')}`;
}

/**
 * Bytes the file stream may hold before the export waits: about a page, so the
 * next page is read and formatted while the last one is being written (a
 * 16 KB default would make every page wait for its own write). 1 MB exported
 * 100k completions at 40-42k/s against 34-36k/s with 8 MB, in the same session.
 */
const OUT_BUFFER_BYTES = 1024 * 1024;

/**
 * Writes to `out` and reports a failed write (a full disk, a quota, an I/O error) as what it is: left to
 * the stream, the error ended the tool with a stack trace. What was written before stays in the file, and
 * the export resumes with --after the last id it holds.
 */
function writerTo(out: Writable, name: string) {
  let failure: Error | undefined;
  out.on('error', (err: Error) => (failure ??= err));
  const failed = (err: Error) => new CliError(`cannot write ${name}: ${err.message}\nstopped: what was written before stays (--after the last id it holds resumes)`);
  const settle = async (event: 'drain' | 'finish') => {
    if (failure) throw failed(failure);
    try {
      await once(out, event);
    } catch (err) {
      throw failed(err as Error);
    }
  };
  let ended = false;
  return {
    async write(chunk: string): Promise<void> {
      if (failure) throw failed(failure);
      // Ended by Ctrl-C: the process ends as soon as what was written is flushed, and nothing more is to be added.
      if (ended) return new Promise<void>(() => {});
      if (!out.write(chunk)) await settle('drain');
    },
    async end(): Promise<void> {
      ended = true;
      out.end();
      await settle('finish');
    },
  };
}

/** Same file: same device and inode (a path written another way, through a link, is still the database). */
function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * Refuses an --out that is the SQLite database (or its -wal or -shm): opening it for writing empties it, so a
 * slip of tab completion (\`--out data/completions.db\`) destroyed the database it was about to export.
 */
function checkOutNotDatabase(out: string, databaseUrl: string): void {
  for (const file of [databaseUrl, `${databaseUrl}-wal`, `${databaseUrl}-shm`]) {
    if (sameFile(out, file)) throw new UsageError(`--out: ${out} is the database being exported (DATABASE_URL); writing there would empty it`);
  }
}

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'write stored completions as JSON lines (completions, finetune or eval format)',
  help: HELP,
  options: {
    ...PROJECT_OPTIONS,
    ...FILTER_OPTIONS,
    format: { type: 'string' },
    choice: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
    order: { type: 'string' },
    out: { type: 'string' },
    append: { type: 'boolean' },
  },
  async run({ values }, context) {
    const format = parseFormat(values.format);
    const choice = values.choice === undefined ? 0 : parsePositiveInteger(values.choice, 'choice', 0);
    const limit = values.limit === undefined ? undefined : parsePositiveInteger(values.limit, 'limit');
    const filters = parseFilters(values);
    const order = parseOrder(values.order);
    const config = context.config();
    checkProjectOptions(config, values);
    // `--out -` is standard output, as import's FILE - is standard input (it wrote a file named "-").
    const outPath = values.out === '-' ? undefined : values.out;
    if (values.append && outPath === undefined) throw new UsageError('--append: it adds to the file --out names; standard output is a stream to redirect with >>');
    const store = await openSourceStore(config.databaseUrl, 'DATABASE_URL', config.sqliteSynchronous);
    try {
      // Checked once the database is open: a database closed cleanly has no -wal nor -shm, and opening it makes them,
      // so checked before, `--out DB-wal` passed and was truncated under the open connection (its -shm: a SIGBUS).
      if (outPath !== undefined) checkOutNotDatabase(outPath, config.databaseUrl);
      const project = await resolveProject(config, store, values);
      // As the list's `after`: any id the project had, deleted ones included (the walk goes on from its place).
      if (values.after !== undefined && !(await store.isIdTaken(project, values.after))) {
        throw new UsageError(`--after: the project has no completion '${values.after}' (nor had one)`);
      }
      // Replaced unless --append: a resumed export (--after the last id the file holds) adds the rest to it.
      const out = outPath === undefined ? context.stdout : createWriteStream(outPath, { flags: values.append ? 'a' : 'w', highWaterMark: OUT_BUFFER_BYTES });
      if (outPath !== undefined) {
        try {
          await once(out, 'open');
        } catch (err) {
          throw new CliError(`--out: cannot write ${outPath}: ${(err as Error).message}`);
        }
      }
      const progress = createProgress(context.stderr, 'export');
      // As the service warns when it starts on it: exit code 0 and a summary alone, a part would pass for the whole.
      const unfinished = await unfinishedCopyIn(store);
      if (unfinished) {
        progress.note(
          `warning: this database holds an unfinished copy (a copy into it from ${unfinished.from} started at ${unfinished.startedAt} was stopped before the end): ` +
            'it has only part of its source, and so has this export',
        );
      }
      const tally = newTally();
      const startedAt = performance.now();
      const writer = writerTo(out, outPath ?? 'standard output');
      // Ctrl-C or SIGTERM: the lines handed over (whole pages) are flushed before the process ends, so the file ends with a
      // whole line and resumes with --after its last id; killed in the middle of a write, it ended in half a line.
      const forgetInterrupt = out === context.stdout ? undefined : context.onInterrupt?.(() => writer.end().catch(() => undefined));
      try {
        for await (const chunk of exportLines(store, { project, filters, format, choice, limit, after: values.after, order }, tally)) {
          await writer.write(chunk);
          progress.update({ read: tally.read, written: tally.written });
        }
        // Standard output stays open: the process's, ended when it exits.
        if (out !== context.stdout) await writer.end();
      } finally {
        forgetInterrupt?.();
      }
      progress.finish(`export: ${counted(tally.written, 'line')} (${format}) from ${counted(tally.read, 'completion')} in ${rate(tally.read, startedAt)}${describeSkips(tally)}`);
    } finally {
      await store.close();
    }
  },
});
