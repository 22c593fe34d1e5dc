import { ApiError, describeJsonType } from './errors.ts';
import { isObject, type Json, MAX_STORED_JSON_DEPTH, nestsDeeperThan } from './json.ts';
import { noteWrittenKeyOrders } from './key-order.ts';
import { hasLoneSurrogate } from './validation.ts';

/**
 * Whether a provider's 200 is something the proxy can store. A stored create
 * promises that a 200 means the completion is on disk, so a 200 that is not a
 * chat completion (an empty or non-JSON body, an array, an error object, a
 * list, `choices` that is no array...) must not pass as one: it becomes a 502
 * that says what the provider sent. Unstored requests never come here: they
 * pass through as a proxy passes anything.
 */

/** How much of a provider's unreadable body a message quotes. */
const QUOTED_CHARS = 200;

/** A provider's text as a message quotes it: JSON-escaped and cut short. */
export function quote(text: string): string {
  const cut = text.length > QUOTED_CHARS ? `${text.slice(0, QUOTED_CHARS)}...` : text;
  return JSON.stringify(cut);
}

/** The error message of a provider's error object: OpenAI's `{"error": {...}}` or vLLM's `{"object": "error", ...}`. */
function errorMessage(value: Json): string {
  const error = isObject(value.error) ? value.error : value;
  if (typeof error.message === 'string' && error.message !== '') return quote(error.message);
  if (typeof value.error === 'string' && value.error !== '') return quote(value.error);
  return quote(JSON.stringify(value));
}

/**
 * What is wrong with a parsed JSON value that should be a `chat.completion`
 * (or, for a stream, a `chat.completion.chunk`); undefined when nothing is.
 * `object` may be absent or empty (some compatible servers, Azure's first
 * chunk), but never another type.
 */
export function problemWithCompletion(value: unknown, objectType: 'chat.completion' | 'chat.completion.chunk'): string | undefined {
  if (Array.isArray(value)) return 'a JSON array';
  if (!isObject(value)) return `JSON that is ${describeJsonType(value)}`;
  if ((value.error !== undefined && value.error !== null) || value.object === 'error') return `an error: ${errorMessage(value)}`;
  if (value.object !== undefined && value.object !== '' && value.object !== objectType) {
    return typeof value.object === 'string' ? `an object of type '${value.object}'` : `an 'object' field that is ${describeJsonType(value.object)}`;
  }
  if (!Array.isArray(value.choices)) {
    return value.choices === undefined ? "an object without 'choices'" : `'choices' that is ${describeJsonType(value.choices)}`;
  }
  const badChoice = value.choices.find((choice) => !isObject(choice));
  if (badChoice !== undefined) return `a choice that is ${describeJsonType(badChoice)}`;
  if (typeof value.model === 'string' && hasLoneSurrogate(value.model)) return 'a model name that is not valid Unicode text';
  if (nestsDeeperThan(value, MAX_STORED_JSON_DEPTH)) return `JSON nested deeper than ${MAX_STORED_JSON_DEPTH} levels`;
  return undefined;
}

/** What an empty answer is called: the one not-a-completion the SDKs may retry (notStoredError). */
const EMPTY_BODY = 'an empty body';

/** What is wrong with a body that should be one `chat.completion`, or the parsed completion. */
export function parseCompletionText(text: string): { completion: Json } | { problem: string } {
  if (text.trim() === '') return { problem: EMPTY_BODY };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `a body that is not JSON: ${quote(text)}` };
  }
  const problem = problemWithCompletion(parsed, 'chat.completion');
  if (problem !== undefined) return { problem };
  // Stored as the provider wrote it: an object keyed by token ids (vLLM's prompt_logprobs) keeps its order.
  noteWrittenKeyOrders(parsed, text);
  return { completion: parsed as Json };
}

/** The 502 a stored request gets for a provider's 200 that is not what was asked for. */
export function notStoredError(what: string, status = 200): ApiError {
  const error = new ApiError(
    502,
    `The upstream provider answered ${status} with ${what} instead of a chat completion; nothing was stored.`,
    'server_error',
  );
  // Not retried (x-should-retry: false): the provider would most likely answer the same request the same way, each
  // time a generation paid for and nothing stored. An empty body may be a proxy's hiccup: the SDKs' own rule.
  return what === EMPTY_BODY ? error : error.notRetryable();
}
