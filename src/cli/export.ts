import { once } from 'node:events';
import { closeSync, createWriteStream, existsSync, fstatSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { unfinishedCopyIn } from '../copy-mark.ts';
import { EXPORT_FORMATS, type ExportFormat, SKIP_REASONS, type SkipReason } from '../export/formats.ts';
import { exportLines, type ExportTally, newTally } from '../export/run-export.ts';
import { defineCommand } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { FILTER_HELP, FILTER_OPTIONS, parseFilters, parsePositiveInteger, PROJECT_HELP, PROJECT_OPTIONS, projectOptions } from './options.ts';
import type { SortOrder } from '../validation.ts';
import { count, counted } from '../counts.ts';
import { createProgress, rate } from './progress.ts';
import { checkProjectOptions, openSourceStore, resolveProject } from './target.ts';

const HELP = `Usage: stored-completions export (--key KEY | --key-file PATH | --project NAME) [options]

Writes a project's stored completions as JSON lines, in (created, id) order.

Formats (--format):
  completions  each completion exactly as retrieve returns it, plus "input_messages"
               (every item of its messages endpoint); what \`import\` reads (default)
  finetune     OpenAI's chat fine-tuning lines: the input messages as sent, then the
               reply of one choice; completions that make no valid example (empty
               reply, refusal, cut off, unpaired tool calls) are skipped and counted
  eval         {"item": {id, model, input, output, metadata}} for an eval's JSONL data source;
               with --sample also "sample": {model, output_text, output_json, output_tools,
               choices, finish_reason, usage}: the reply as graders read a sample

Options:
${PROJECT_HELP}
  --format FORMAT       completions | finetune | eval (default completions)
  --choice N            the choice finetune and eval lines are made of (default 0; finetune and eval only)
  --sample              eval lines carry the reply as a "sample" too (eval format only)
${FILTER_HELP}
  --limit N             at most N lines
  --after ID            start after this completion (resume a cut export from the last id it holds)
  --order asc|desc      oldest first (default) or newest first
  --out FILE            write to FILE instead of standard output (- is standard output)
  --append              add to the end of --out's FILE instead of replacing it (resuming with --after);
                        refused when FILE ends in a cut line (it says how many bytes to drop)
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
  return `; skipped ${count(total)}: ${entries.map(([reason, n]) => `${count(n)} for ${reason} (${SKIP_REASONS[reason]})`).join(', ')}`;
}

/**
 * Bytes the file stream may hold before the export waits: about a page, so the
 * next page is read and formatted while the last one is being written (a
 * 16 KB default would make every page wait for its own write). 1 MB exported
 * 100k completions at 40-42k/s against 34-36k/s with 8 MB, in the same session.
 */
const OUT_BUFFER_BYTES = 1024 * 1024;

/** The length of `fd`'s file up to its last new line at or past `floor` (`floor` when there is none there): where its last whole line ends. */
function wholeLinesEnd(fd: number, floor: number): number {
  const block = Buffer.alloc(64 * 1024);
  let end = fstatSync(fd).size;
  while (end > floor) {
    const start = Math.max(floor, end - block.length);
    const read = readSync(fd, block, 0, end - start, start);
    const at = block.subarray(0, read).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return floor;
}

/** A path as one shell word, whatever it holds (`it's.jsonl` is `'it'\''s.jsonl'`). */
function shellQuoted(path: string): string {
  return `'${path.replace(/'/g, "'\\''")}'`;
}

/** The last `length` bytes at `start` are a whole JSON line that lacks only its new line (read when under 64 MiB). */
function isJsonLine(fd: number, start: number, length: number): boolean {
  if (length > 64 * 1024 * 1024) return false;
  const bytes = Buffer.alloc(length);
  readSync(fd, bytes, 0, length, start);
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses to --append to a file that ends in a cut line (an export killed or stopped by a full disk mid-write): the
 * first line added would be glued to it, and the file would hold a line that is not JSON. Not cut here: the file may
 * be the operator's own, and which bytes to keep is theirs to say; the message says how many to drop.
 */
function checkEndsWithWholeLine(path: string): void {
  // Only a regular file holds lines to look at: opened to read, a named pipe would wait for a writer for good.
  if (!existsSync(path) || !statSync(path).isFile()) return;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return; // Said as the open for appending fails.
  }
  try {
    const size = fstatSync(fd).size;
    const cut = size - wholeLinesEnd(fd, 0);
    if (cut > 0 && isJsonLine(fd, size - cut, cut)) {
      throw new CliError(
        `--append: ${path} ends in a whole line without its new line (${counted(cut, 'byte')}, written by another tool?); ` +
          `added to, the next line would be glued to it. End it (printf '\\n' >> ${shellQuoted(path)}), then resume with --after the last id it holds`,
      );
    }
    if (cut > 0) {
      throw new CliError(
        `--append: ${path} ends in a cut line (${counted(cut, 'byte')} after its last new line: an export stopped in the middle of a write); ` +
          `added to, the next line would be glued to it. Drop them (truncate -s -${cut} -- ${shellQuoted(path)}), then resume with --after the last id it holds`,
      );
    }
  } finally {
    closeSync(fd);
  }
}

const WRITTEN_STAYS = 'what was written before stays (--after the last id it holds resumes)';

/**
 * After a failed write to `path` (a full disk): the file is cut back to its last whole line past `floor` (where this
 * export began writing: what was there before an --append is not ours to cut), so it resumes with --after its last id
 * and --append. Returns what to say.
 */
function cutBackToWholeLine(path: string, floor: number): string {
  try {
    // A device (/dev/full) or a pipe holds no line to cut.
    if (!statSync(path).isFile()) return WRITTEN_STAYS;
    const fd = openSync(path, 'r+');
    try {
      const size = fstatSync(fd).size;
      const end = wholeLinesEnd(fd, Math.min(floor, size));
      if (end === size) return WRITTEN_STAYS;
      ftruncateSync(fd, end);
      return `the cut line it ended with (${counted(size - end, 'byte')}) was dropped, so the file ends with a whole line (--after the last id it holds, with --append, resumes)`;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `what was written before stays, but it may end in a cut line, which could not be dropped (${(err as Error).message}): drop it before resuming with --after the last id it holds`;
  }
}

/**
 * Writes to `out` and reports a failed write (a full disk, a quota, an I/O error) as what it is: left to
 * the stream, the error ended the tool with a stack trace. What was written before stays in the file (cut back
 * to its last whole line by `cutBack`, for a file), and the export resumes with --after the last id it holds.
 */
function writerTo(out: Writable, name: string, cutBack?: () => string) {
  let failure: Error | undefined;
  out.on('error', (err: Error) => (failure ??= err));
  const failed = async (err: Error) => {
    let outcome = WRITTEN_STAYS;
    if (cutBack) {
      // The stream closes its file after the error: what it had written is all there is to cut.
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      outcome = cutBack();
    }
    return new CliError(`cannot write ${name}: ${err.message}\nstopped: ${outcome}`);
  };
  const settle = async (event: 'drain' | 'finish') => {
    if (failure) throw await failed(failure);
    try {
      await once(out, event);
    } catch (err) {
      throw await failed(err as Error);
    }
  };
  let ended = false;
  return {
    async write(chunk: string): Promise<void> {
      if (failure) throw await failed(failure);
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
    sample: { type: 'boolean' },
    limit: { type: 'string' },
    after: { type: 'string' },
    order: { type: 'string' },
    out: { type: 'string' },
    append: { type: 'boolean' },
  },
  async run({ values }, context) {
    const format = parseFormat(values.format);
    const choice = values.choice === undefined ? 0 : parsePositiveInteger(values.choice, 'choice', 0);
    const sample = values.sample === true;
    if (sample && format !== 'eval') throw new UsageError(`--sample: only eval lines carry a sample (the format is ${format}; add --format eval)`);
    // A completions line is the whole stored completion, every choice: a --choice there would be ignored without a
    // word, and the file taken for one choice's lines. Refused as --sample is.
    if (values.choice !== undefined && format === 'completions') {
      throw new UsageError('--choice: only finetune and eval lines are made of one choice (the format is completions, whose lines hold every choice; add --format finetune or --format eval)');
    }
    const limit = values.limit === undefined ? undefined : parsePositiveInteger(values.limit, 'limit');
    const filters = parseFilters(values);
    const order = parseOrder(values.order);
    const config = context.config();
    const target = projectOptions(values);
    checkProjectOptions(config, target);
    // `--out -` is standard output, as import's FILE - is standard input (it wrote a file named "-").
    const outPath = values.out === '-' ? undefined : values.out;
    if (values.append && outPath === undefined) throw new UsageError('--append: it adds to the file --out names; standard output is a stream to redirect with >>');
    const store = await openSourceStore(config.databaseUrl, 'DATABASE_URL', config.sqliteSynchronous);
    try {
      // Checked once the database is open: a database closed cleanly has no -wal nor -shm, and opening it makes them,
      // so checked before, `--out DB-wal` passed and was truncated under the open connection (its -shm: a SIGBUS).
      if (outPath !== undefined) checkOutNotDatabase(outPath, config.databaseUrl);
      const project = await resolveProject(config, store, target);
      // As the list's `after`: any id the project had, deleted ones included (the walk goes on from its place).
      if (values.after !== undefined && !(await store.isIdTaken(project, values.after))) {
        throw new UsageError(`--after: the project has no completion '${values.after}' (nor had one)`);
      }
      if (values.append && outPath !== undefined) checkEndsWithWholeLine(outPath);
      // Where this export's lines begin in the file: a failed write cuts back no further.
      const floor = values.append && outPath !== undefined && existsSync(outPath) ? statSync(outPath).size : 0;
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
      const writer = writerTo(out, outPath ?? 'standard output', outPath === undefined ? undefined : () => cutBackToWholeLine(outPath, floor));
      // Ctrl-C or SIGTERM: the lines handed over (whole pages) are flushed before the process ends, so the file ends with a
      // whole line and resumes with --after its last id; killed in the middle of a write, it ended in half a line.
      const forgetInterrupt = out === context.stdout ? undefined : context.onInterrupt?.(() => writer.end().catch(() => undefined));
      try {
        for await (const chunk of exportLines(store, { project, filters, format, choice, sample, limit, after: values.after, order }, tally)) {
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
