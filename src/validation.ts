import { ApiError, describeJsonType } from './errors.ts';

export const METADATA_MAX_PAIRS = 16;
export const METADATA_KEY_MAX_LENGTH = 64;
export const METADATA_VALUE_MAX_LENGTH = 512;

export type Metadata = Record<string, string>;

function checkPairCount(count: number): void {
  if (count > METADATA_MAX_PAIRS) {
    throw ApiError.badRequest(
      `Invalid 'metadata': too many properties. Expected an object with at most ${METADATA_MAX_PAIRS} properties, but got an object with ${count} properties instead.`,
      'metadata',
      'object_above_max_properties',
    );
  }
}

/** Length in Unicode code points, as OpenAI counts: an emoji is one character, not two UTF-16 units. */
function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** With the `u` flag a surrogate class matches only unpaired halves. */
const LONE_SURROGATE = /\p{Cs}/u;

function checkPair(key: string, value: string): void {
  const keyLength = characterCount(key);
  if (keyLength > METADATA_KEY_MAX_LENGTH) {
    throw ApiError.badRequest(
      `Invalid 'metadata': key too long. Expected a key with maximum length ${METADATA_KEY_MAX_LENGTH}, but got a key with length ${keyLength} instead.`,
      'metadata',
      'string_above_max_length',
    );
  }
  const valueLength = characterCount(value);
  if (valueLength > METADATA_VALUE_MAX_LENGTH) {
    throw ApiError.badRequest(
      `Invalid 'metadata.${key}': string too long. Expected a string with maximum length ${METADATA_VALUE_MAX_LENGTH}, but got a string with length ${valueLength} instead.`,
      `metadata.${key}`,
      'string_above_max_length',
    );
  }
  // A lone surrogate (JSON allows "\ud800") is not text: SQLite would store bytes no UTF-8 query string can name.
  if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) {
    throw ApiError.badRequest(
      `Invalid 'metadata.${key}': keys and values must be valid Unicode text.`,
      `metadata.${key}`,
      'invalid_value',
    );
  }
}

/**
 * Validates a request's `metadata` field (create and update). Returns `{}` for
 * null or absent, the same map otherwise; throws OpenAI's 400 for the first fault.
 */
export function parseMetadata(value: unknown): Metadata {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw ApiError.badRequest(
      `Invalid type for 'metadata': expected an object, but got ${describeJsonType(value)} instead.`,
      'metadata',
      'invalid_type',
    );
  }
  const entries = Object.entries(value);
  checkPairCount(entries.length);
  for (const [key, v] of entries) {
    if (typeof v !== 'string') {
      throw ApiError.badRequest(
        `Invalid type for 'metadata.${key}': expected a string, but got ${describeJsonType(v)} instead.`,
        `metadata.${key}`,
        'invalid_type',
      );
    }
    checkPair(key, v);
  }
  // fromEntries defines own properties: `result[key] = v` would drop a `__proto__` key (it sets the prototype instead).
  return Object.fromEntries(entries) as Metadata;
}

export type SortOrder = 'asc' | 'desc';

export interface PageParams {
  after: string | undefined;
  limit: number;
  order: SortOrder;
}

export interface ListParams extends PageParams {
  model: string | undefined;
  /** AND-ed exact pairs, in the order the query named them. */
  metadata: [string, string][];
}

/** Each scalar parameter may appear once: a repeated one is ambiguous, so it is refused rather than guessed. */
function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) {
    throw ApiError.badRequest(`Invalid '${name}': expected a single value, but got ${all.length} values.`, name, 'invalid_type');
  }
  return all[0];
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 20;
  if (!/^[+-]?\d+$/.test(raw.trim())) {
    throw ApiError.badRequest(`Invalid 'limit': expected an integer, but got '${raw}' instead.`, 'limit', 'invalid_type');
  }
  const limit = Number(raw.trim());
  if (limit > 100) {
    throw ApiError.badRequest(
      `Invalid 'limit': integer above maximum value. Expected a value <= 100, but got ${raw.trim()} instead.`,
      'limit',
      'integer_above_max_value',
    );
  }
  if (limit < 1) {
    throw ApiError.badRequest(
      `Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${raw.trim()} instead.`,
      'limit',
      'integer_below_min_value',
    );
  }
  return limit;
}

function parseOrder(raw: string | undefined): SortOrder {
  if (raw === undefined || raw === '') return 'asc';
  if (raw === 'asc' || raw === 'desc') return raw;
  throw ApiError.badRequest(`Invalid value: '${raw}'. Supported values are: 'asc' and 'desc'.`, 'order', 'invalid_value');
}

export function parsePageParams(params: URLSearchParams): PageParams {
  const after = single(params, 'after');
  return {
    after: after === '' ? undefined : after,
    limit: parseLimit(single(params, 'limit')),
    order: parseOrder(single(params, 'order')),
  };
}

const METADATA_PARAM = /^metadata\[(.*)\]$/s;

/**
 * The list's query: `metadata[k]=v` pairs (keys arrive decoded; `]` and `[`
 * inside a key are kept as written), a bare `metadata=` meaning no filter.
 */
export function parseListParams(params: URLSearchParams): ListParams {
  const page = parsePageParams(params);
  const model = single(params, 'model');
  const metadata: [string, string][] = [];
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (name === 'metadata') {
      if (value !== '') {
        throw ApiError.badRequest(
          "Invalid type for 'metadata': expected an object, but got a string instead.",
          'metadata',
          'invalid_type',
        );
      }
      continue;
    }
    const match = METADATA_PARAM.exec(name);
    if (!match) continue;
    const key = match[1]!;
    if (seen.has(key)) {
      const count = params.getAll(name).length;
      throw ApiError.badRequest(
        `Invalid 'metadata.${key}': expected a single value, but got ${count} values.`,
        `metadata.${key}`,
        'invalid_type',
      );
    }
    seen.add(key);
    checkPair(key, value);
    metadata.push([key, value]);
  }
  checkPairCount(metadata.length);
  return { ...page, model: model === '' ? undefined : model, metadata };
}
