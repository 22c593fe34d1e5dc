import { ApiError, describeJsonType } from './errors.ts';

/**
 * A request's `ids`: 1 to `max` strings, each once (twice would be one completion changed or exported twice, or a
 * client's mistake). Throws OpenAI's 400 naming the parameter, or the item (`ids[3]`).
 */
export function parseIdList(value: unknown, max: number): string[] {
  if (value === undefined) throw ApiError.badRequest("Missing required parameter: 'ids'.", 'ids', 'missing_required_parameter');
  if (!Array.isArray(value)) {
    throw ApiError.badRequest(`Invalid type for 'ids': expected an array of strings, but got ${describeJsonType(value)} instead.`, 'ids', 'invalid_type');
  }
  if (value.length === 0) throw ApiError.badRequest("Invalid 'ids': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'ids', 'empty_array');
  if (value.length > max) {
    throw ApiError.badRequest(
      `Invalid 'ids': array too long. Expected an array with maximum length ${max}, but got an array with length ${value.length} instead.`,
      'ids',
      'array_above_max_length',
    );
  }
  const seen = new Map<string, number>();
  value.forEach((id: unknown, index) => {
    if (typeof id !== 'string') {
      throw ApiError.badRequest(`Invalid type for 'ids[${index}]': expected a string, but got ${describeJsonType(id)} instead.`, `ids[${index}]`, 'invalid_type');
    }
    const first = seen.get(id);
    // Not echoed: an id may be any length.
    if (first !== undefined) throw ApiError.badRequest(`Invalid 'ids[${index}]': the same id as 'ids[${first}]'.`, `ids[${index}]`, 'invalid_value');
    seen.set(id, index);
  });
  return [...seen.keys()];
}
