import { isAddressable } from '../completion-ids.ts';
import { ApiError } from '../errors.ts';
import { type ExactIntegers, withExactIntegers } from '../exact-integers.ts';
import { isObject, type Json, MAX_STORED_JSON_DEPTH, nestsDeeperThan } from '../json.ts';
import type { CompletionRecord } from '../store/index.ts';
import { EARLIEST_CREATED, isStorableCreated, LATEST_CREATED, tokenCountsOfUsage } from '../store/derived-fields.ts';
import { parseMetadataInWrittenOrder, storedJsonText } from '../key-order.ts';
import { hasLoneSurrogate } from '../validation.ts';
import { messageItemId } from '../wire.ts';

/**
 * Reading one completion in the `completions` export format (what retrieve
 * returns plus `input_messages`), for `import` and `mirror`. The record keeps
 * every field as it came: the stored texts are the parsed object written back
 * by JSON.stringify, which gives back exactly what this service served (it
 * wrote them that way), so a round trip is byte for byte.
 */

/** Why a line cannot be imported; the message names the field. */
export class InvalidCompletionError extends Error {
  override name = 'InvalidCompletionError';
}

/** A dated snapshot name (`gpt-4o-mini-2024-07-18`) and the alias it was most likely asked for by. */
const DATED_SNAPSHOT = /^(.+)-\d{4}-\d{2}-\d{2}$/;

function fail(message: string): never {
  throw new InvalidCompletionError(message);
}

/**
 * What a line that is no completion looks like, when it is one of the lines users most often give by mistake: the
 * other export formats (which carry too little to store back) and a list page saved from the API. Without it the
 * message named only a missing "object", and the file of another format looked broken rather than the wrong one.
 */
function lookalike(value: Json): string {
  if (Array.isArray(value.messages)) return ' (a `finetune` export line: only the `completions` format can be imported)';
  if (isObject(value.item)) return ' (an `eval` export line: only the `completions` format can be imported)';
  if (value.object === 'list' && Array.isArray(value.data)) return ' (a list page: import takes one completion a line, as `export` writes them)';
  return '';
}

/**
 * The record to store for a completion in the export format. `now` (Unix
 * seconds) becomes its storage time, which retention ages by: an imported
 * history is kept as long as if it had been stored today. `exact`: the integers past 2^53 of the
 * text `value` was parsed from, written back as they came (src/exact-integers.ts).
 */
export function toImportedRecord(value: unknown, now: number, exact?: ExactIntegers): CompletionRecord {
  // Keys in the order the text wrote them where an object changed it (noteWrittenKeyOrders), as create stores them.
  const write = (json: unknown) => withExactIntegers(storedJsonText(json), exact);
  if (!isObject(value)) fail('expected a JSON object (a chat.completion with input_messages)');
  if (nestsDeeperThan(value, MAX_STORED_JSON_DEPTH)) fail(`JSON nested deeper than ${MAX_STORED_JSON_DEPTH} levels`);
  const { choices, metadata, input_messages: inputMessages, ...body } = value;
  const { id, object, created, model } = body;
  if (object !== 'chat.completion') fail(`expected "object": "chat.completion", got ${JSON.stringify(object) ?? 'nothing'}${lookalike(value)}`);
  if (!isAddressable(id)) fail('"id" must be a string of 1 to 256 characters without control characters or unpaired surrogates');
  // What the create path stores: a provider may send 0, or a clock before 1970; the bounds are those of a day usage can name.
  if (!isStorableCreated(created)) fail(`"created" must be a whole number of Unix seconds from ${EARLIEST_CREATED} to ${LATEST_CREATED} (the years 0000 to 9999)`);
  // Any string: create stores the provider's model as it came, an empty name included, and import must take back what export wrote.
  if (typeof model !== 'string' || hasLoneSurrogate(model)) fail('"model" must be a string of valid Unicode text');
  if (!Array.isArray(choices) || !choices.every(isObject)) fail('"choices" must be an array of objects');
  let checkedMetadata;
  try {
    checkedMetadata = parseMetadataInWrittenOrder(metadata);
  } catch (err) {
    if (err instanceof ApiError) fail(err.message);
    throw err;
  }
  const items = inputMessages ?? [];
  if (!Array.isArray(items) || !items.every(isObject)) fail('"input_messages" must be an array of message objects');
  const messageItems = (items as Json[]).map((item, idx) => {
    const { id: itemId, ...rest } = item;
    // Message ids are derived from their position; one that says otherwise would be served differently than it came.
    if (itemId !== undefined && itemId !== messageItemId(id, idx)) {
      fail(`input_messages[${idx}].id must be ${JSON.stringify(messageItemId(id, idx))}, got ${JSON.stringify(itemId)}`);
    }
    // Present, whatever its value: create stores the role a request's message had (null when it had none, a number as
    // sent) once the provider accepted it, and import must take back every line export wrote.
    if (!('role' in rest)) fail(`input_messages[${idx}] has no "role"`);
    return rest;
  });
  // Its search text is read from the stored texts when stored, not carried from here: an import or mirror batch holds
  // many records at once, and a search text beside each (a copy of its texts) doubled what a batch of large ones held.
  return {
    id,
    created: created as number,
    storedAt: now,
    model,
    requestedModel: DATED_SNAPSHOT.exec(model)?.[1] ?? model,
    metadata: checkedMetadata,
    body: write(body),
    choices: (choices as Json[]).map(write),
    messages: messageItems.map(write),
    tokens: tokenCountsOfUsage(body.usage),
  };
}
