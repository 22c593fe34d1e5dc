import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { BATCH_TEXT_CHARACTERS } from '../batch-text.ts';
import { findUnsafeIntegers } from '../exact-integers.ts';
import { InvalidCompletionError, toImportedRecord } from '../import/completion-line.ts';
import { inputLines } from '../import/input-lines.ts';
import { noteWrittenKeyOrders } from '../key-order.ts';
import type { CompletionRecord } from '../store/index.ts';
import { count, counted } from '../counts.ts';
import { defineCommand } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { PROJECT_HELP, PROJECT_OPTIONS, projectOptions, parseBatchSize } from './options.ts';
import { createProgress, rate } from './progress.ts';
import { checkProjectOptions, openStore, resolveProject } from './target.ts';

const HELP = `Usage: stored-completions import FILE (--key KEY | --key-file PATH | --project NAME) [options]

Stores the completions of a file in the \`completions\` export format (one
chat.completion with its "input_messages" per line; FILE - reads standard input)
into a project, with their ids, created times, metadata, choices, usage and
message ids unchanged. Importing the same file again stores nothing twice: an
id already stored (or deleted) in the project is skipped and counted.
Written in batches, each one transaction. A bad line stops the import with its
line number; what was committed before it stays.

Options:
${PROJECT_HELP}
  --skip-invalid        report bad lines and go on instead of stopping
  --batch N             completions per transaction (default 500; fewer once they hold 32 MiB)
  -h, --help            this text

Example:
  stored-completions import examples/completions.jsonl --key sk-my-key`;

/** The text a record holds, in characters: what its batch holds in memory, give or take the parsing's share. */
function recordCharacters(record: CompletionRecord): number {
  let characters = record.body.length;
  for (const text of record.choices) characters += text.length;
  for (const text of record.messages) characters += text.length;
  return characters;
}

/** Opens the input; a missing or unreadable file is a clear error before anything is written. */
async function openInput(path: string, stdin: Readable): Promise<Readable> {
  if (path === '-') return stdin;
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(err as Error).message}`);
  }
  // A folder opens, and fails only at the first read (EISDIR), which ended the tool with a stack trace. Asked of the
  // open file itself: the path may name something else by now.
  if ((await file.stat()).isDirectory()) {
    await file.close();
    throw new CliError(`${path} is a folder, not a file`);
  }
  return file.createReadStream();
}

/** The input failed under the import (an I/O error, a file on a network share gone), after some lines were read. */
class InputReadError extends Error {
  override name = 'InputReadError';
}

/** The input's chunks, a failure to read them told apart from a failure to store what they held. */
async function* chunksOf(input: Readable): AsyncGenerator<Buffer | string> {
  try {
    yield* input;
  } catch (err) {
    throw new InputReadError((err as Error).message);
  }
}

/** Why a line is not a completion, in words. */
function describeBadLine(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // A completion saved as `jq .` prints it (pretty, over many lines) opens with a line of `{` alone.
    const pretty = /^\s*[[{]\s*$/.test(text) ? ': the file looks like indented JSON, a value over many lines, where import takes one completion a line (`jq -c` writes them so)' : '';
    return `not JSON (${(err as Error).message})${pretty}`;
  }
  try {
    toImportedRecord(value, 0);
    return '';
  } catch (err) {
    if (err instanceof InvalidCompletionError) return `not a completion: ${err.message}`;
    throw err;
  }
}

export const importCommand = defineCommand({
  name: 'import',
  summary: 'store completions from a file in the completions format (idempotent)',
  help: HELP,
  positionals: true,
  options: { ...PROJECT_OPTIONS, 'skip-invalid': { type: 'boolean' }, batch: { type: 'string' } },
  async run({ values, positionals }, context) {
    if (positionals.length !== 1) throw new UsageError('expected one FILE (or - for standard input)');
    // Digits only: Number() also reads 1.5, 0x10 and 1e3, and a value past the maximum is refused, not quietly lowered.
    const batchSize = parseBatchSize(values.batch, 500);
    const path = positionals[0]!;
    const config = context.config();
    const target = projectOptions(values);
    checkProjectOptions(config, target);
    // Before the database: a mistyped FILE must not leave a new empty database behind (nor run its migrations).
    const input = await openInput(path, context.stdin);
    let store;
    try {
      store = await openStore(config.databaseUrl, config.sqliteSynchronous);
    } catch (err) {
      // Standard input is the process's: left as it is, as the finally below leaves it.
      if (input !== context.stdin) input.destroy();
      throw err;
    }
    try {
      const project = await resolveProject(config, store, target);
      const progress = createProgress(context.stderr, 'import');
      const startedAt = performance.now();
      const counts = { lines: 0, stored: 0, existing: 0, invalid: 0 };
      let batch: CompletionRecord[] = [];
      let batchCharacters = 0;
      const flush = async () => {
        const result = await store.importCompletions(project, batch);
        counts.stored += result.stored;
        counts.existing += result.skipped.length;
        batch = [];
        batchCharacters = 0;
        progress.update({ lines: counts.lines, stored: counts.stored, 'already there': counts.existing, invalid: counts.invalid });
      };
      const now = Math.floor(Date.now() / 1000);
      /** A line that cannot be stored: the import stops there, or with --skip-invalid reports it and goes on. */
      const badLine = async (problem: string) => {
        if (!values['skip-invalid']) {
          await flush();
          throw new CliError(
            `line ${counts.lines}: ${problem}\nstopped: ${count(counts.stored)} stored before it stay, ${count(counts.existing)} were already there (--skip-invalid skips bad lines)`,
          );
        }
        counts.invalid++;
        progress.note(`skipped line ${counts.lines}: ${problem}`);
      };
      try {
        for await (const line of inputLines(chunksOf(input))) {
          counts.lines++;
          if ('problem' in line) {
            // A UTF-16 or gzip file has no line that can be read: one message for the file, whatever --skip-invalid says.
            // Only when it is the first line: further on (files joined end to end), lines before it were stored, and it is
            // a bad line like another.
            if (line.wholeFile && counts.lines === 1) throw new CliError(`${path === '-' ? 'standard input' : path}: ${line.problem}; nothing was stored`);
            await badLine(line.problem);
            continue;
          }
          // A byte order mark (editors on Windows write one) opens a file, not a completion; on any line, as files that
          // each open with one are joined end to end (`cat a.jsonl b.jsonl`): refused there, the line was "not JSON" for
          // an unexpected token that prints as nothing.
          const text = line.text.startsWith('\uFEFF') ? line.text.slice(1) : line.text;
          if (text.trim() === '') continue;
          let record: CompletionRecord;
          try {
            const value: unknown = JSON.parse(text);
            // Objects as the line wrote them (a metadata map, a tool's schema), as export wrote them: parsed, their
            // integer-like keys came first.
            noteWrittenKeyOrders(value, text);
            record = toImportedRecord(value, now, findUnsafeIntegers(text));
          } catch (err) {
            if (!(err instanceof SyntaxError || err instanceof InvalidCompletionError)) throw err;
            // "Unexpected end of JSON input" alone did not say why the last line of a file cut off ended early.
            const cutOff = err instanceof SyntaxError && line.unended ? '; it is the last line, with no new line after it: the file looks cut off (an export or download that stopped?)' : '';
            await badLine(`${describeBadLine(text)}${cutOff}`);
            continue;
          }
          batch.push(record);
          batchCharacters += recordCharacters(record);
          // A batch is held whole until its transaction, at about 2.6 times its text: --batch alone let 500 images of
          // 5 MB each take the import past Node's heap, nothing of the batch stored.
          if (batch.length >= batchSize || batchCharacters >= BATCH_TEXT_CHARACTERS) await flush();
        }
      } catch (err) {
        if (!(err instanceof InputReadError)) throw err;
        // The lines read whole before it are stored, as before a bad line.
        await flush();
        throw new CliError(
          `cannot read ${path === '-' ? 'standard input' : path}${counts.lines > 0 ? ` after line ${counts.lines}` : ''}: ${err.message}\nstopped: ${count(counts.stored)} stored before it stay, ${count(counts.existing)} were already there`,
        );
      }
      await flush();
      await store.settleSearchIndex(counts.stored);
      progress.finish(
        `import: ${count(counts.stored)} stored, ${count(counts.existing)} already there (skipped), ${counted(counts.invalid, 'invalid line')} skipped, ` +
          `${counted(counts.lines, 'line')} in ${rate(counts.lines, startedAt)}`,
      );
    } finally {
      if (input !== context.stdin) input.destroy();
      await store.close();
    }
  },
});
