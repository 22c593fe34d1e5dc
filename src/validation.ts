import { ApiError, describeJsonType } from './errors.ts';

export const METADATA_MAX_PAIRS = 16;
export const METADATA_KEY_MAX_LENGTH = 64;
export const METADATA_VALUE_MAX_LENGTH = 512;

export type Metadata = Record<string, string>;

function checkPairCount(count: number, param: string): void {
  if (count > METADATA_MAX_PAIRS) {
    throw ApiError.badRequest(
      `Invalid '${param}': too many properties. Expected an object with at most ${METADATA_MAX_PAIRS} properties, but got an object with ${count} properties instead.`,
      param,
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

/**
 * True when `text` holds half a surrogate pair (JSON allows `"\ud800"`): not text. SQLite would keep
 * its raw bytes and PostgreSQL U+FFFD, so a model or metadata filter could not name it the same way
 * on both, nor tell `x\ud800` from `x\ufffd`.
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

function checkStringLength(param: string, value: string, max: number): void {
  const length = characterCount(value);
  if (length > max) {
    throw ApiError.badRequest(
      `Invalid '${param}': string too long. Expected a string with maximum length ${max}, but got a string with length ${length} instead.`,
      param,
      'string_above_max_length',
    );
  }
}

/**
 * A metadata key's limits (64 characters, text), errors naming `param` (the map's); one not text names `textParam`,
 * the key's own place (`metadata.KEY` in a map, `remove[1]` in a list).
 */
export function checkMetadataKey(key: string, param: string, textParam = `${param}.${key}`): void {
  const keyLength = characterCount(key);
  if (keyLength > METADATA_KEY_MAX_LENGTH) {
    throw ApiError.badRequest(
      `Invalid '${param}': key too long. Expected a key with maximum length ${METADATA_KEY_MAX_LENGTH}, but got a key with length ${keyLength} instead.`,
      param,
      'string_above_max_length',
    );
  }
  if (hasLoneSurrogate(key)) {
    throw ApiError.badRequest(`Invalid '${textParam}': keys and values must be valid Unicode text.`, textParam, 'invalid_value');
  }
}

/** A metadata value's limits (512 characters, text), errors naming `param.key`. */
export function checkMetadataValue(key: string, value: string, param: string): void {
  checkStringLength(`${param}.${key}`, value, METADATA_VALUE_MAX_LENGTH);
  if (hasLoneSurrogate(value)) {
    throw ApiError.badRequest(`Invalid '${param}.${key}': keys and values must be valid Unicode text.`, `${param}.${key}`, 'invalid_value');
  }
}

function checkPair(key: string, value: string, param = 'metadata'): void {
  checkMetadataKey(key, param);
  checkMetadataValue(key, value, param);
}

/**
 * The entries of a map of at most 16 pairs, a JSON object, its errors naming `param`; {} for null or absent.
 * `isValue` says which values it takes, `expected` names them in the error for another.
 */
export function metadataEntries<V>(value: unknown, param: string, isValue: (v: unknown) => v is V, expected: string): [string, V][] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw ApiError.badRequest(`Invalid type for '${param}': expected an object, but got ${describeJsonType(value)} instead.`, param, 'invalid_type');
  }
  const entries = Object.entries(value);
  checkPairCount(entries.length, param);
  for (const [key, v] of entries) {
    if (!isValue(v)) {
      throw ApiError.badRequest(
        `Invalid type for '${param}.${key}': expected ${expected}, but got ${describeJsonType(v)} instead.`,
        `${param}.${key}`,
        'invalid_type',
      );
    }
    if (typeof v === 'string') checkPair(key, v, param);
    else checkMetadataKey(key, param);
  }
  return entries as [string, V][];
}

export const isString = (v: unknown): v is string => typeof v === 'string';

/**
 * Validates a request's `metadata` field (create and update). Returns `{}` for
 * null or absent, the same map otherwise; throws OpenAI's 400 for the first fault.
 */
export function parseMetadata(value: unknown, param = 'metadata'): Metadata {
  // fromEntries defines own properties: `result[key] = v` would drop a `__proto__` key (it sets the prototype instead).
  return Object.fromEntries(metadataEntries(value, param, isString, 'a string')) as Metadata;
}

export type SortOrder = 'asc' | 'desc';

export interface PageParams {
  after: string | undefined;
  limit: number;
  order: SortOrder;
}

/** What selects completions, shared by the list, usage and export (everything but paging). */
export interface ListFilters {
  model: string | undefined;
  /** AND-ed exact pairs, in the order the query named them. */
  metadata: [string, string][];
  /** Unix seconds, inclusive: only completions with `created >= createdAfter`. */
  createdAfter?: number | undefined;
  /** Unix seconds, exclusive: only completions with `created < createdBefore`. */
  createdBefore?: number | undefined;
  /**
   * Full-text search as the user typed it (never blank): completions whose input messages and
   * replies contain every word of it. Words, not a query language: the store quotes each one.
   */
  search?: string | undefined;
}

export interface ListParams extends PageParams, ListFilters {}

/** Longest `search` accepted: longer text is not a search a person types, and each word costs an index lookup. */
export const SEARCH_MAX_LENGTH = 1000;

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

/** `after` and `order`, as every list takes them: the position a walk continues from, and its direction. */
export function parseCursorParams(params: URLSearchParams): Omit<PageParams, 'limit'> {
  const after = single(params, 'after');
  return { after: after === '' ? undefined : after, order: parseOrder(single(params, 'order')) };
}

export function parsePageParams(params: URLSearchParams): PageParams {
  const { after, order } = parseCursorParams(params);
  return { after, limit: parseLimit(single(params, 'limit')), order };
}

const METADATA_PARAM = /^metadata\[(.*)\]$/s;

/** `created_after` / `created_before`: whole Unix seconds (an empty value means no bound, like `model=`). */
function parseUnixSeconds(params: URLSearchParams, name: string): number | undefined {
  const raw = single(params, name);
  if (raw === undefined || raw === '') return undefined;
  const value = /^[+-]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw ApiError.badRequest(
      `Invalid '${name}': expected an integer (Unix seconds), but got '${raw}' instead.`,
      name,
      'invalid_type',
    );
  }
  return value;
}

function parseSearch(params: URLSearchParams): string | undefined {
  const raw = single(params, 'search');
  if (raw === undefined) return undefined;
  if (raw.trim() === '') {
    throw ApiError.badRequest(
      "Invalid 'search': expected at least one word, but got an empty or blank string instead.",
      'search',
      'string_below_min_length',
    );
  }
  checkStringLength('search', raw, SEARCH_MAX_LENGTH);
  return raw;
}

/**
 * The filters every listing endpoint takes (list, usage, export): `model`, `metadata[k]=v`
 * pairs (keys arrive decoded; `]` and `[` inside a key are kept as written; a bare `metadata=`
 * means no filter), `created_after`, `created_before` and `search`.
 */
export function parseListFilters(params: URLSearchParams): ListFilters {
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
    if (!match) {
      // A key with an unescaped `&` (the .NET SDK writes keys as they are) splits the pair in two: `metadata[c` and
      // `d]=2`. Ignored, the filter would be dropped and the list answered unfiltered, which a "list, then delete"
      // script would act on.
      if (name.startsWith('metadata[')) {
        throw ApiError.badRequest(
          `Invalid metadata filter '${name}': expected metadata[KEY]=VALUE. A key holding &, =, #, + or % must be percent-encoded.`,
          'metadata',
          'invalid_value',
        );
      }
      continue;
    }
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
  checkPairCount(metadata.length, 'metadata');
  return {
    model: model === '' ? undefined : model,
    metadata,
    createdAfter: parseUnixSeconds(params, 'created_after'),
    createdBefore: parseUnixSeconds(params, 'created_before'),
    search: parseSearch(params),
  };
}

/**
 * The list's query: its filters and the page (`after`, `limit`, `order`).
 * Spelled out field by field, not spread (`{ ...page, ...filters }`): on Node 20, spreading
 * two fresh objects makes V8 build a new hidden class for the result at every call (10 µs
 * and more a list request in the profile of the served list, and old-space garbage).
 */
export function parseListParams(params: URLSearchParams): ListParams {
  const { after, limit, order } = parsePageParams(params);
  const { model, metadata, createdAfter, createdBefore, search } = parseListFilters(params);
  return { after, limit, order, model, metadata, createdAfter, createdBefore, search };
}
