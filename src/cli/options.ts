import { readFileSync } from 'node:fs';
import { ApiError } from '../errors.ts';
import { type ListFilters, parseMetadata } from '../validation.ts';
import type { OptionsConfig } from './command.ts';
import { UsageError } from './errors.ts';


/** Options every command that reads or writes one project takes. */
export const PROJECT_OPTIONS = {
  key: { type: 'string' },
  'key-file': { type: 'string' },
  project: { type: 'string' },
} as const satisfies OptionsConfig;

/** The project options with the key read: `--key`, or the first line of the file `--key-file` names. */
export function projectOptions(values: { key?: string | undefined; 'key-file'?: string | undefined; project?: string | undefined }): {
  key: string | undefined;
  project: string | undefined;
} {
  const key = secretOption(values.key, values['key-file'], 'key');
  if (key !== undefined) checkKeyCharacters(key, 'key');
  return { key, project: values.project };
}

/**
 * Refuses a key no request can carry in its Authorization header: with a space or a line break around it (`--key
 * "$(cat FILE)"` keeps a Windows line end's \r), or a control character or one past U+00FF in it. The service sees
 * the key a client sends, its surrounding whitespace dropped by HTTP, so in pass-through mode such a --key named a
 * project of its own, which no client could ever reach: an import into it said "stored" and was lost to every key.
 * Sent by the mirror, fetch refused the header, and the refusal, key and all, was printed as a dropped connection,
 * retried for 94 s. The key is not echoed.
 */
export function checkKeyCharacters(key: string, option: string): void {
  if (/^[ \t\r\n]|[ \t\r\n]$/.test(key)) {
    throw new UsageError(
      `--${option}: the key begins or ends with a space or a line break (pasted with what followed it, or read with $(cat FILE) from a file ` +
        `with Windows line ends), which no request carries: give the key alone, or --${option}-file, which drops the whitespace around it`,
    );
  }
  // What an HTTP header value may hold: tabs, printable ASCII and bytes 0x80 to 0xFF (Latin-1, one byte each).
  if (/[^\t\x20-\x7e\x80-\xff]/.test(key)) {
    throw new UsageError(
      `--${option}: the key holds a character no request can carry (a control character such as a line break, or one past U+00FF): check that it was copied whole and alone`,
    );
  }
}

/**
 * A secret given as `--NAME VALUE` or, kept out of the command line (which any local user reads in `ps` or
 * /proc/PID/cmdline for as long as the run lasts: a mirror runs for hours), as `--NAME-file PATH`: a Docker or
 * Kubernetes secret, or `<(printf %s "$KEY")`. The file's text without its surrounding whitespace (the newline
 * `echo` or an editor leaves would otherwise be part of the key).
 */
export function secretOption(value: string | undefined, path: string | undefined, name: string): string | undefined {
  if (path === undefined) return value;
  if (value !== undefined) throw new UsageError(`--${name} and --${name}-file: give one of them`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--${name}-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const secret = text.trim();
  if (secret === '') throw new UsageError(`--${name}-file: ${path} is empty`);
  if (/\s/.test(secret)) throw new UsageError(`--${name}-file: ${path} holds more than one line or word; expected the key alone`);
  return secret;
}

/** The filters of OpenAI's list (and of its Evals stored-completions data source), as options. */
export const FILTER_OPTIONS = {
  model: { type: 'string' },
  metadata: { type: 'string', multiple: true },
  'created-after': { type: 'string' },
  'created-before': { type: 'string' },
  search: { type: 'string' },
} as const satisfies OptionsConfig;

export const PROJECT_HELP = `  --key KEY             the project this key sees (in either tenancy mode)
  --key-file PATH       the same, the key read from a file (kept out of the command line, which \`ps\` shows)
  --project NAME        the project by name (with API_KEYS)`;

export const FILTER_HELP = `  --model NAME          only completions of this model (requested or answered)
  --metadata KEY=VALUE  only completions with this metadata pair; repeat to AND several
  --created-after T     created at or after T (Unix seconds or an ISO date, UTC unless it says otherwise)
  --created-before T    created before T
  --search WORDS        only completions whose messages or replies contain every word`;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** True when the date's day exists in its month: Date.parse reads 2025-02-30 as March 2 rather than refusing it. */
function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * A time as Unix seconds: whole seconds as they are, or an ISO 8601 date or
 * date-time, read as UTC when it names no offset (a server's clock is not the
 * operator's wall clock, and the stored `created` is UTC).
 */
export function parseTime(text: string, option: string): number {
  const compact = compactDate(text);
  if (compact !== undefined) {
    // `20250303` is a time in August 1970 as seconds, which no stored completion has: the operator meant the date.
    // Refused rather than guessed: read as seconds it filters silently, and read as a date it stops being seconds.
    throw new UsageError(`--${option}: '${text}' reads as Unix seconds (${new Date(Number(text) * 1000).toISOString().slice(0, 10)}); for the date write ${compact}`);
  }
  // Whole seconds the store can compare with (PostgreSQL's bigint refuses more): the HTTP list's own bound, a safe integer.
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  if (ISO_DATE.test(text) && isCalendarDate(text)) {
    const withZone = /T/i.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? `${text}Z` : text;
    const ms = Date.parse(withZone);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  throw new UsageError(`--${option}: expected Unix seconds or an ISO date such as 2025-01-31 or 2025-01-31T12:00:00Z, got '${text}'`);
}

/** `YYYYMMDD` of a calendar date from 1990 to 2099 as `YYYY-MM-DD`, else undefined: ISO 8601's basic form, or seconds in 1970-73. */
function compactDate(text: string): string | undefined {
  const parts = /^(19[9]\d|20\d\d)(\d\d)(\d\d)$/.exec(text);
  if (parts === null) return undefined;
  const date = `${parts[1]}-${parts[2]}-${parts[3]}`;
  return isCalendarDate(date) ? date : undefined;
}

export function parsePositiveInteger(text: string, option: string, min = 1): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw new UsageError(`--${option}: expected a whole number >= ${min}, got '${text}'`);
  }
  return Number(text);
}

/** Most completions a command writes in one transaction: one batch is held in memory whole, and past this size it only costs memory. */
export const MAX_BATCH_SIZE = 10_000;

/** `--batch N`: `fallback` when absent; a whole number from 1 to MAX_BATCH_SIZE (not 1.5, 0x10 or 1e3 read as a size). */
export function parseBatchSize(text: string | undefined, fallback: number): number {
  return parseCount(text, 'batch', fallback, MAX_BATCH_SIZE);
}

/** `--OPTION N`: `fallback` when absent; a whole number from 1 to `max`, refused past it rather than quietly cut down. */
export function parseCount(text: string | undefined, option: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const count = /^\d+$/.test(text) ? Number(text) : 0;
  if (count < 1 || count > max) throw new UsageError(`--${option}: expected a whole number from 1 to ${max}, got '${text}'`);
  return count;
}

/** `--metadata k=v` pairs, checked by the same rules as the list's filter (OpenAI's limits). */
export function parseMetadataPairs(pairs: string[] | undefined): [string, string][] {
  const parsed: [string, string][] = [];
  for (const pair of pairs ?? []) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--metadata: expected KEY=VALUE, got '${pair}'`);
    parsed.push([pair.slice(0, equals), pair.slice(equals + 1)]);
  }
  const keys = new Set(parsed.map(([k]) => k));
  if (keys.size !== parsed.length) throw new UsageError('--metadata: each key may be given once');
  try {
    parseMetadata(Object.fromEntries(parsed));
  } catch (err) {
    if (err instanceof ApiError) throw new UsageError(`--metadata: ${err.message}`);
    throw err;
  }
  return parsed;
}

export function parseFilters(values: {
  model?: string | undefined;
  metadata?: string[] | undefined;
  'created-after'?: string | undefined;
  'created-before'?: string | undefined;
  search?: string | undefined;
}): ListFilters {
  if (values.search !== undefined && values.search.trim() === '') throw new UsageError('--search: expected at least one word');
  return {
    model: values.model,
    metadata: parseMetadataPairs(values.metadata),
    createdAfter: values['created-after'] === undefined ? undefined : parseTime(values['created-after'], 'created-after'),
    createdBefore: values['created-before'] === undefined ? undefined : parseTime(values['created-before'], 'created-before'),
    search: values.search,
  };
}
