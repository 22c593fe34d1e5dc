import { ApiError } from '../errors.ts';
import { type ListFilters, parseCursorParams, parseListFilters, type SortOrder } from '../validation.ts';
import { EXPORT_FORMATS, type ExportFormat } from './formats.ts';

export interface ExportParams {
  filters: ListFilters;
  format: ExportFormat;
  choice: number;
  limit: number | undefined;
  /** Lines from the completion after this one (a cut download resumed from the last id it holds). */
  after: string | undefined;
  order: SortOrder;
}

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) {
    throw ApiError.badRequest(`Invalid '${name}': expected a single value, but got ${all.length} values.`, name, 'invalid_type');
  }
  return all[0] === '' ? undefined : all[0];
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
 * `format`, `limit` (lines, no maximum) and `choice`.
 */
export function parseExportParams(params: URLSearchParams): ExportParams {
  const format = single(params, 'format') ?? 'completions';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw ApiError.badRequest(
      `Invalid value: '${format}'. Supported values are: 'completions', 'finetune' and 'eval'.`,
      'format',
      'invalid_value',
    );
  }
  return {
    filters: parseListFilters(params),
    format: format as ExportFormat,
    choice: parseCount(params, 'choice', 0) ?? 0,
    limit: parseCount(params, 'limit', 1),
    ...parseCursorParams(params),
  };
}
