import { ApiError, describeJsonType } from './errors.ts';
import { parseIdList } from './id-list-param.ts';
import { parseMetadataInWrittenOrder } from './key-order.ts';
import type { MetadataChange } from './store/index.ts';
import { checkMetadataKey, isString, METADATA_MAX_PAIRS, metadataEntries } from './validation.ts';

/** The most completions one request changes: one transaction holds their rows, so it stays short. */
export const METADATA_CHANGE_MAX_IDS = 100;

const PARAMETERS = new Set(['ids', 'set', 'remove', 'expect']);

const isValueOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** `remove`: up to 16 keys (no map holds more), each within a key's limits. */
function parseRemove(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw ApiError.badRequest(`Invalid type for 'remove': expected an array of strings, but got ${describeJsonType(value)} instead.`, 'remove', 'invalid_type');
  }
  if (value.length > METADATA_MAX_PAIRS) {
    throw ApiError.badRequest(
      `Invalid 'remove': array too long. Expected an array with maximum length ${METADATA_MAX_PAIRS}, but got an array with length ${value.length} instead.`,
      'remove',
      'array_above_max_length',
    );
  }
  value.forEach((key: unknown, index) => {
    if (!isString(key)) {
      throw ApiError.badRequest(`Invalid type for 'remove[${index}]': expected a string, but got ${describeJsonType(key)} instead.`, `remove[${index}]`, 'invalid_type');
    }
    // Named by its place in the list, as a wrong type is: `remove.KEY` would be a path into an object `remove` is not.
    checkMetadataKey(key, `remove[${index}]`, `remove[${index}]`);
  });
  return value as string[];
}

/**
 * The body of `POST /v1/stored-completions/metadata` (docs/api.md): the ids, and a change that changes something
 * (`set` or `remove`), never a key both set and removed. Throws OpenAI's 400 naming the parameter.
 */
export function parseMetadataChangeRequest(body: Record<string, unknown>): { ids: string[]; change: MetadataChange } {
  const unknown = Object.keys(body).find((key) => !PARAMETERS.has(key));
  if (unknown !== undefined) throw ApiError.badRequest(`Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');
  const ids = parseIdList(body.ids, METADATA_CHANGE_MAX_IDS);
  const set = parseMetadataInWrittenOrder(body.set, 'set');
  const remove = parseRemove(body.remove);
  const expect = Object.fromEntries(metadataEntries(body.expect, 'expect', isValueOrNull, 'a string or null'));
  if (Object.keys(set).length === 0 && remove.length === 0) {
    throw ApiError.badRequest("Nothing to change: give pairs in 'set' or keys in 'remove'.", 'set', 'missing_required_parameter');
  }
  const both = remove.find((key) => Object.hasOwn(set, key));
  if (both !== undefined) throw ApiError.badRequest(`Invalid 'remove': '${both}' is also in 'set'.`, 'remove', 'invalid_value');
  return { ids, change: { set, remove, expect } };
}
