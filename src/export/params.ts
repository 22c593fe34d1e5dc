import { ApiError, describeJsonType } from '../errors.ts';
import { parseIdList } from '../id-list-param.ts';
import { type ListFilters, parseCursorParams, parseListFilters, type SortOrder } from '../validation.ts';
import { EXPORT_FORMATS, type ExportFormat } from './formats.ts';

export interface ExportParams {
  filters: ListFilters;
  format: ExportFormat;
  choice: number;
  /** Eval lines carry the reply as a `sample` too. */
  sample: boolean;
  limit: number | undefined;
  /** Lines from the completion after this one (a cut download resumed from the last id it holds). */
  after: string | undefined;
  order: SortOrder;
}

function checkFormat(format: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw ApiError.badRequest(
      `Invalid value: '${format}'. Supported values are: 'completions', 'finetune' and 'eval'.`,
      'format',
      'invalid_value',
    );
  }
  return format as ExportFormat;
}

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) {
    throw ApiError.badRequest(`Invalid '${name}': expected a single value, but got ${all.length} values.`, name, 'invalid_type');
  }
  return all[0] === '' ? undefined : all[0];
}

/** `sample`, which only an eval line has: a 400 with any other format, so that it is not silently without effect. */
function checkSample(sample: boolean, format: ExportFormat): boolean {
  if (sample && format !== 'eval') {
    throw ApiError.badRequest(`'sample' applies only to format 'eval' (the format asked for is '${format}').`, 'sample', 'invalid_value');
  }
  return sample;
}

/**
 * `choice`, which only finetune and eval lines are made of: a 400 when given with `completions`, whose lines hold
 * every choice, so that it is not silently without effect (the CLI refuses `--choice` there too).
 */
function checkChoice(choice: number | undefined, format: ExportFormat): number {
  if (choice !== undefined && format === 'completions') {
    throw ApiError.badRequest(
      "'choice' applies only to formats 'finetune' and 'eval' (the format asked for is 'completions', whose lines hold every choice).",
      'choice',
      'invalid_value',
    );
  }
  return choice ?? 0;
}

/** A boolean in a query: `true` or `false` (absent or empty: undefined). */
function parseFlag(params: URLSearchParams, name: string): boolean | undefined {
  const raw = single(params, name);
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') {
    throw ApiError.badRequest(`Invalid value: '${raw}'. Supported values are: 'true' and 'false'.`, name, 'invalid_value');
  }
  return raw === 'true';
}

/** A whole number of at least `min`, with OpenAI's texts for what is not. Export's `limit` has no maximum. */
function parseCount(params: URLSearchParams, name: string, min: number): number | undefined {
  const raw = single(params, name);
  if (raw === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(raw.trim())) {
    throw ApiError.badRequest(`Invalid '${name}': expected an integer, but got '${raw}' instead.`, name, 'invalid_type');
  }
  // A count past 2^53 is still a whole number, and there is no maximum: it asks for more lines (or a
  // later choice) than any export holds, as the largest safe integer does, which it is read as.
  const value = Math.min(Number(raw.trim()), Number.MAX_SAFE_INTEGER);
  if (value < min) {
    throw ApiError.badRequest(
      `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${raw.trim()} instead.`,
      name,
      'integer_below_min_value',
    );
  }
  return value;
}

/**
 * `GET /v1/stored-completions/export`'s query: the list's filters, `after` and `order` as the list takes them,
 * `format`, `limit` (lines, no maximum), `choice` and `sample` (eval lines only).
 */
export function parseExportParams(params: URLSearchParams): ExportParams {
  const format = checkFormat(single(params, 'format') ?? 'completions');
  return {
    filters: parseListFilters(params),
    format,
    choice: checkChoice(parseCount(params, 'choice', 0), format),
    sample: checkSample(parseFlag(params, 'sample') ?? false, format),
    limit: parseCount(params, 'limit', 1),
    ...parseCursorParams(params),
  };
}

/** The most completions one export by ids names: its body stays small (~400 KB), and so does the check that reads their sizes. */
export const EXPORT_MAX_IDS = 10_000;

export interface ExportSelection {
  ids: string[];
  format: ExportFormat;
  choice: number;
  sample: boolean;
}

const SELECTION_PARAMETERS = new Set(['ids', 'format', 'choice', 'sample']);

/**
 * `POST /v1/stored-completions/export`'s body: `ids` (1 to EXPORT_MAX_IDS, each once), and `format`, `choice` and `sample` as
 * the GET export takes them. Throws OpenAI's 400 naming the parameter.
 */
export function parseExportSelection(body: Record<string, unknown>): ExportSelection {
  const unknown = Object.keys(body).find((key) => !SELECTION_PARAMETERS.has(key));
  if (unknown !== undefined) throw ApiError.badRequest(`Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');
  const ids = parseIdList(body.ids, EXPORT_MAX_IDS);
  const { format = 'completions', choice, sample = false } = body;
  if (typeof format !== 'string') {
    throw ApiError.badRequest(`Invalid type for 'format': expected a string, but got ${describeJsonType(format)} instead.`, 'format', 'invalid_type');
  }
  if (choice !== undefined && (typeof choice !== 'number' || !Number.isInteger(choice))) {
    throw ApiError.badRequest(`Invalid type for 'choice': expected an integer, but got ${describeJsonType(choice)} instead.`, 'choice', 'invalid_type');
  }
  if (choice !== undefined && choice < 0) {
    throw ApiError.badRequest(`Invalid 'choice': integer below minimum value. Expected a value >= 0, but got ${choice} instead.`, 'choice', 'integer_below_min_value');
  }
  if (typeof sample !== 'boolean') {
    throw ApiError.badRequest(`Invalid type for 'sample': expected a boolean, but got ${describeJsonType(sample)} instead.`, 'sample', 'invalid_type');
  }
  const checked = checkFormat(format);
  return { ids, format: checked, choice: checkChoice(choice, checked), sample: checkSample(sample, checked) };
}
