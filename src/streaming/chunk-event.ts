import { isObject, type Json } from '../json.ts';
import { noteWrittenKeyOrders } from '../key-order.ts';
import { problemWithCompletion, quote } from '../upstream-answer.ts';
import { errorEvent, notStoredMessage } from './error-events.ts';
import type { SseEvent } from './sse.ts';

/**
 * What a stored stream's event holds: a chunk to relay, the provider's own error (relayed), or
 * something else the provider sent instead and our error event that tells the client.
 */
export type ReadEvent = { chunk: Json; reshaped?: boolean } | { problem: string; providerError: true } | { problem: string; errorEvent: string };

/**
 * A chunk under another `object`: Perplexity names the last chunk of its streams (the one with its `finish_reason`)
 * `"chat.completion.done"`, and named every chunk `"chat.completion"` before (perplexityai/api-discussion#209). Read
 * as chunks when every choice carries a `delta`: refused, every stored stream from it ended in an error, nothing
 * stored. A whole `chat.completion` (its choices a `message` each) is still no chunk.
 */
function isChunkNamedOtherwise(value: unknown): value is Json {
  if (!isObject(value) || (value.object !== 'chat.completion.done' && value.object !== 'chat.completion')) return false;
  const { choices } = value;
  return Array.isArray(choices) && choices.length > 0 && choices.every((choice) => isObject(choice) && isObject(choice.delta));
}

/**
 * Reads one event of a stored stream (one with data). A provider's own error (OpenAI's shape, an
 * `event: error` whatever its data, or vLLM's `{"object": "error"}`, each put into OpenAI's shape, so
 * the SDKs raise it) is relayed as an error; anything else that is no chunk gets our own error event.
 */
export function readEvent(event: SseEvent): ReadEvent {
  // The SDKs raise an `event: error` as the provider's error, whatever it holds: so does a stored stream.
  if (event.type === 'error') return { problem: 'an error event', providerError: true };
  const data = event.data!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    const problem = `an event that is not JSON: ${quote(data)}`;
    return { problem, errorEvent: errorEvent(notStoredMessage(problem)) };
  }
  // The usage-only chunk some providers send without `choices`, or with null (DeepSeek and OpenRouter have): read as
  // OpenAI's `choices: []`. Refused, it failed every stored stream there, since the proxy asks for usage itself.
  // Relayed so reshaped (`reshaped`): the SDK iterates a chunk's choices, and would raise on this one.
  const reshaped = isObject(parsed) && parsed.choices == null && isObject(parsed.usage) && parsed.error == null;
  if (reshaped) (parsed as Json).choices = [];
  const problem = problemWithCompletion(isChunkNamedOtherwise(parsed) ? { ...parsed, object: undefined } : parsed, 'chat.completion.chunk');
  if (problem === undefined) {
    // What the completion keeps of a chunk as it came (vLLM's prompt_logprobs, keyed by token ids) keeps the order written.
    noteWrittenKeyOrders(parsed, data);
    return { chunk: parsed as Json, reshaped };
  }
  const isError = isObject(parsed) && ((parsed.error !== undefined && parsed.error !== null) || parsed.object === 'error');
  return isError ? { problem, providerError: true } : { problem, errorEvent: errorEvent(notStoredMessage(problem)) };
}
