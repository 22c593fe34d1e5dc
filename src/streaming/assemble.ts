/**
 * Builds, from the `chat.completion.chunk`s of a stream, the `chat.completion`
 * the upstream would have returned without streaming: the object a plain call
 * stores, so stored streams and stored plain calls have the same shape.
 *
 * Merging rules (the same as the official SDK's own accumulator):
 * - top level: every field kept; a later chunk's value replaces an earlier one,
 *   except that null never replaces a value (`usage: null` on every chunk, then
 *   the totals on the last), and stays when nothing else comes (but `usage`, absent then: an object or absent in OpenAI's schema). `obfuscation` is per-chunk padding and is dropped.
 * - choices by `index`; `finish_reason` the last non-null one; logprobs'
 *   `content` and `refusal` arrays concatenated; any other choice field replaced,
 *   except that arrays concatenate and `{}` replaces no object (see mergeChoiceField).
 * - delta: `role` replaced; `content` and `refusal` strings concatenated (null
 *   until a string arrives), and `content` sent as parts (Mistral's reasoning
 *   models) kept as parts, see mergeContent; `tool_calls` merged by `index`, `id`, `type` and
 *   `function.name` replaced by a non-empty value only (a continuation delta's
 *   `"name": ""` does not wipe the name), Gemini's `extra_content` merged without
 *   concatenating (see mergeOpaque), `function.arguments` concatenated (a custom
 *   tool's `custom.name` and `custom.input` likewise; arguments sent as an object
 *   kept as one, see mergeStreamed); a
 *   tool call delta without `index` (Gemini sends whole calls so) is the call
 *   with its `id`, a new call for an `id` not seen yet, else the last call (a new one
 *   when it follows another without `index` in the same delta); the legacy
 *   `function_call` likewise; `audio` with `data` and `transcript` concatenated;
 *   OpenRouter's `reasoning_details` joined by entry (see reasoning-details.ts).
 *   Any other delta field: strings concatenate (`reasoning_content`, ...),
 *   arrays concatenate, objects merge by the same rule, other values replace.
 * - at the end: a call's missing `arguments` is `""`, an empty `refusal` null. (A call without `type` is typed
 *   where every stored choice is made, toStoredChoice in wire.ts.)
 */

import { isObject, type Json } from '../json.ts';
import { mergeReasoningDetails } from './reasoning-details.ts';

/**
 * A provider's chunk may name any field, `__proto__` too (JSON.parse makes it an own field): read as
 * `target[key]` it would be the prototype (Object.prototype), and merging into that pollutes every object of the
 * process (a metrics label, then a crash). Fields are read and written as the object's own, never through it.
 */
function ownField(target: Json, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

function setField(target: Json, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * The generic rule for fields we do not know. What it keeps is the assembler's own (a chunk's arrays and objects
 * copied as they are first kept), so arrays grow in place and objects are merged into without changing a chunk:
 * a spread per chunk made a long stream's logprobs cost time in the square of its length (a minute for 40,000 tokens).
 */
function mergeValue(current: unknown, next: unknown): unknown {
  if (next === null || next === undefined) return current ?? next;
  if (typeof next === 'string' && typeof current === 'string') return current + next;
  if (Array.isArray(next)) return appendAll(Array.isArray(current) ? current : [], next);
  if (isObject(next)) return mergeObject(isObject(current) ? current : {}, next);
  return next;
}

/** `items` added to the end of `kept` one by one: a spread of a long array as arguments overflows the stack. */
function appendAll(kept: unknown[], items: unknown[]): unknown[] {
  for (const item of items) kept.push(item);
  return kept;
}

function mergeObject(target: Json, delta: Json): Json {
  for (const [key, value] of Object.entries(delta)) setField(target, key, mergeValue(ownField(target, key), value));
  return target;
}

/**
 * Replaces unless the new value is null or absent. A null that nothing replaces is kept: a field the
 * provider sent as null on every chunk (vLLM's `stop_reason` on a stop at the end of text, LiteLLM's
 * `system_fingerprint`) is null in its unstreamed answer too, not absent.
 */
function replaceValue(current: unknown, next: unknown): unknown {
  return next === null || next === undefined ? (current ?? next) : next;
}

/** Replaces unless the new value is null, absent or the empty string, as the SDK's accumulator does for ids, types and names. */
function replaceNonEmpty(current: unknown, next: unknown): unknown {
  return next === '' ? current : replaceValue(current, next);
}

/**
 * Gemini's `extra_content` on a tool call (`{"google": {"thought_signature": "..."}}`): objects merged,
 * every other value replaced, never concatenated. The signature is opaque, sent whole, and must go back
 * to Gemini as it came; it may come again in a delta of its own for a call that already has it, and two
 * copies run together are a signature Gemini refuses (a 400 on the conversation's next call).
 */
function mergeOpaque(current: unknown, next: unknown): unknown {
  if (!isObject(next)) return replaceValue(current, next);
  // A copy when first kept: what is merged into it later must not change the chunk it came from.
  const target: Json = isObject(current) ? current : {};
  for (const [key, value] of Object.entries(next)) setField(target, key, mergeOpaque(ownField(target, key), value));
  return target;
}

function concatString(current: unknown, next: unknown): unknown {
  if (typeof next !== 'string') return current;
  return typeof current === 'string' ? current + next : next;
}

/**
 * Mistral's reasoning models stream their thinking as content parts
 * (`[{"type":"thinking","thinking":[{"type":"text","text":"Let"}]}]`, a few words a chunk) before the
 * answer's strings, and answer the same call unstreamed with one thinking part and one text part. Once a part
 * arrives the content is kept as parts, so the thinking is not lost and the stored message reads as the
 * unstreamed one: a string becomes a text part, and a part of the last part's type joins it (text to text,
 * thinking to thinking). Strings alone stay a string, as before.
 */
function mergeContent(current: unknown, next: unknown): unknown {
  if (!Array.isArray(next)) return Array.isArray(current) ? appendText(current, next) : concatString(current, next);
  // A part is an object: an empty array, or one of anything else, adds nothing and leaves a string reply a string.
  const added = next.filter(isObject);
  if (added.length === 0) return current;
  const parts = Array.isArray(current) ? current : typeof current === 'string' && current !== '' ? [{ type: 'text', text: current }] : [];
  for (const part of added) appendPart(parts, part);
  return parts;
}

function appendText(parts: unknown[], text: unknown): unknown[] {
  if (typeof text === 'string' && text !== '') appendPart(parts, { type: 'text', text });
  return parts;
}

function isPlainText(part: Json): boolean {
  return part.type === 'text' && typeof part.text === 'string' && Object.keys(part).length === 2;
}

function appendPart(parts: unknown[], part: unknown): void {
  const last = parts.at(-1);
  if (isObject(part) && isObject(last)) {
    if (isPlainText(part) && isPlainText(last)) {
      last.text = (last.text as string) + (part.text as string);
      return;
    }
    if (part.type === 'thinking' && last.type === 'thinking' && Array.isArray(part.thinking) && Array.isArray(last.thinking)) {
      for (const inner of part.thinking) appendPart(last.thinking, inner);
      return;
    }
    // The same thinking written as a plain string, as some servers do.
    if (part.type === 'thinking' && last.type === 'thinking' && typeof part.thinking === 'string' && typeof last.thinking === 'string') {
      last.thinking += part.thinking;
      return;
    }
  }
  // A copy: the parts joined into it later must not change the chunk the part came from.
  parts.push(structuredClone(part));
}

/**
 * A call streamed without `arguments` (a function that takes none) has them as `""`, as the SDK's
 * accumulator starts them and as the schema requires of a stored completion's call.
 */
function withArguments(fn: Json): void {
  if (fn.arguments === undefined || fn.arguments === null) fn.arguments = '';
}

/**
 * A call's streamed `arguments` (a custom call's `input`): string pieces concatenated. A server that sends them
 * as a JSON object instead (Venice's models, ar-jan/llm-venice#45) has that object kept as it came, objects merged,
 * rather than dropped for not being a string (the stored call had `"arguments": ""` while the client had them).
 */
function mergeStreamed(current: unknown, next: unknown): unknown {
  if (!isObject(next) && !Array.isArray(next)) return concatString(current, next);
  return mergeValue(current === '' ? undefined : current, next);
}

/**
 * A call's `function` (its `arguments` streamed in pieces) or, for a custom tool, its `custom` (its
 * `input`): the name replaced by a non-empty value only, as the SDK does, since a provider may repeat
 * it on every delta.
 */
function mergeCall(target: Json, delta: Json, streamed: 'arguments' | 'input'): void {
  for (const [key, value] of Object.entries(delta)) {
    if (key === streamed) target[key] = mergeStreamed(target[key], value);
    else if (key === 'name') target.name = replaceNonEmpty(target.name, value);
    else setField(target, key, mergeValue(ownField(target, key), value));
  }
}

function mergeFunction(target: Json, delta: Json): void {
  mergeCall(target, delta, 'arguments');
}

interface ChoiceState {
  choice: Json;
  message: Json;
  /** Tool calls by their stream `index`, in order of first appearance. */
  toolCalls: Map<number, Json>;
  /** The highest `index` in toolCalls (-1 while none): kept, not computed per delta, which cost a long list's length each time. */
  lastIndex: number;
  /** The `index` of the first call with each id, for deltas without `index` that name their call by id. */
  byId: Map<string, number>;
}

/**
 * Which call a tool call delta without `index` belongs to. `another`: an earlier entry of the same
 * `tool_calls` array had no index either; one array never holds two deltas of one call, so an entry
 * without id is then a call of its own (Gemini has sent two whole calls so, without ids), not the last one's end.
 */
function indexWithoutIndex(state: ChoiceState, delta: Json, another: boolean): number {
  const last = state.lastIndex;
  if (typeof delta.id !== 'string' || delta.id === '') return another ? last + 1 : Math.max(last, 0);
  return state.byId.get(delta.id) ?? last + 1;
}

function mergeToolCalls(state: ChoiceState, deltas: unknown[]): void {
  let withoutIndex = 0;
  for (const delta of deltas) {
    if (!isObject(delta)) continue;
    const index = typeof delta.index === 'number' ? delta.index : indexWithoutIndex(state, delta, withoutIndex++ > 0);
    let call = state.toolCalls.get(index);
    if (!call) {
      call = {};
      state.toolCalls.set(index, call);
      state.lastIndex = Math.max(state.lastIndex, index);
    }
    for (const [key, value] of Object.entries(delta)) {
      // The stream's `index` only says which call a delta belongs to; a completion's tool calls carry none.
      if (key === 'index') continue;
      // An empty id or type wipes no value, but is kept when no other comes: the provider's unstreamed call has it so.
      if (key === 'id' || key === 'type') call[key] = value === '' && call[key] == null ? '' : replaceNonEmpty(call[key], value);
      else if ((key === 'function' || key === 'custom') && isObject(value)) {
        const target = isObject(call[key]) ? call[key] : (call[key] = {});
        mergeCall(target, value, key === 'function' ? 'arguments' : 'input');
      } else if (key === 'extra_content') setField(call, key, mergeOpaque(ownField(call, key), value));
      else setField(call, key, mergeValue(ownField(call, key), value));
    }
    if (typeof call.id === 'string' && call.id !== '' && !state.byId.has(call.id)) state.byId.set(call.id, index);
  }
}

function mergeAudio(message: Json, audio: Json): void {
  const target = isObject(message.audio) ? message.audio : (message.audio = {});
  for (const [key, value] of Object.entries(audio)) {
    if (key === 'data' || key === 'transcript') target[key] = concatString(target[key], value);
    else setField(target, key, replaceValue(ownField(target, key), value));
  }
}

function mergeDelta(state: ChoiceState, delta: Json): void {
  const { message } = state;
  for (const [key, value] of Object.entries(delta)) {
    switch (key) {
      case 'role':
        message.role = replaceNonEmpty(message.role, value);
        break;
      case 'content':
        message.content = mergeContent(message.content, value);
        break;
      case 'refusal':
        message.refusal = concatString(message.refusal, value);
        break;
      case 'tool_calls':
        if (Array.isArray(value)) mergeToolCalls(state, value);
        break;
      case 'function_call':
        if (isObject(value)) mergeFunction(isObject(message.function_call) ? message.function_call : (message.function_call = {}), value);
        break;
      case 'audio':
        if (isObject(value)) mergeAudio(message, value);
        break;
      case 'reasoning_details':
        setField(message, key, mergeReasoningDetails(ownField(message, key), value));
        break;
      default:
        setField(message, key, mergeValue(ownField(message, key), value));
    }
  }
}

/**
 * A choice's own field (beside its delta): a later value replaces, as at the top level, except that
 * a provider's per-chunk arrays add up (vLLM's `token_ids`, the tokens of that chunk's delta, which its
 * unstreamed choice has all of), and an empty object says nothing (Azure's `content_filter_results: {}`
 * on the chunk that finishes would wipe the results the content chunks carried, which its unstreamed choice has).
 */
function mergeChoiceField(current: unknown, next: unknown): unknown {
  if (Array.isArray(next)) return appendAll(Array.isArray(current) ? current : [], next);
  if (isObject(next) && Object.keys(next).length === 0 && isObject(current)) return current;
  return replaceValue(current, next);
}

function mergeLogprobs(choice: Json, logprobs: unknown): void {
  if (!isObject(logprobs)) return;
  // Merged into a fresh object the first time: its `content` array is then the assembler's, and grows in place.
  choice.logprobs = mergeObject(isObject(choice.logprobs) ? choice.logprobs : {}, logprobs);
}

export interface CompletionAssembler {
  /** Adds one parsed chunk (an object carrying `choices`, possibly empty). */
  add(chunk: Json): void;
  /** The `chat.completion` so far, with the given id. */
  result(id: string): Json;
}

export function createCompletionAssembler(): CompletionAssembler {
  const top: Json = {};
  const choices = new Map<number, ChoiceState>();

  function choiceState(index: number): ChoiceState {
    let state = choices.get(index);
    if (!state) {
      // role/content/refusal first and present, as in a non-streamed message.
      const message: Json = { role: null, content: null, refusal: null };
      state = { choice: { index, message, logprobs: null, finish_reason: null }, message, toolCalls: new Map(), lastIndex: -1, byId: new Map() };
      choices.set(index, state);
    }
    return state;
  }

  return {
    add(chunk) {
      for (const [key, value] of Object.entries(chunk)) {
        if (key === 'choices' || key === 'obfuscation') continue;
        setField(top, key, replaceValue(ownField(top, key), value));
      }
      if (!Array.isArray(chunk.choices)) return;
      chunk.choices.forEach((raw, position) => {
        if (!isObject(raw)) return;
        const state = choiceState(typeof raw.index === 'number' ? raw.index : position);
        for (const [key, value] of Object.entries(raw)) {
          if (key === 'index') continue;
          if (key === 'delta') {
            if (isObject(value)) mergeDelta(state, value);
          } else if (key === 'logprobs') mergeLogprobs(state.choice, value);
          else if (key === 'finish_reason') state.choice.finish_reason = replaceValue(state.choice.finish_reason, value);
          else setField(state.choice, key, mergeChoiceField(ownField(state.choice, key), value));
        }
      });
    },
    result(id) {
      const assembled = [...choices.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, state]) => {
          const message: Json = { ...state.message, role: state.message.role ?? 'assistant' };
          // An empty refusal is none, as the SDK's accumulator keeps it (and a plain call says it): null.
          if (message.refusal === '') message.refusal = null;
          if (isObject(message.function_call)) withArguments(message.function_call);
          if (state.toolCalls.size > 0) {
            for (const call of state.toolCalls.values()) {
              if (isObject(call.function)) withArguments(call.function);
              // A custom tool's input starts as "" in the SDK's accumulator, as a function's arguments do.
              if (isObject(call.custom) && (call.custom.input === undefined || call.custom.input === null)) call.custom.input = '';
            }
            message.tool_calls = [...state.toolCalls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
          }
          return { ...state.choice, message };
        });
      // OpenAI's order for a non-streamed completion, so a stored stream is byte-identical to a stored plain call.
      const ordered: Json = { id, object: 'chat.completion' };
      for (const key of ['created', 'model']) if (Object.hasOwn(top, key)) ordered[key] = top[key];
      ordered.choices = assembled;
      for (const key of ['usage', 'service_tier', 'system_fingerprint']) if (Object.hasOwn(top, key)) ordered[key] = top[key];
      for (const [key, value] of Object.entries(top)) if (!Object.hasOwn(ordered, key)) setField(ordered, key, value);
      // A provider that ignores `include_usage` may still send `usage: null` on every chunk: the one null not kept,
      // since a completion's usage is an object or absent (OpenAI's schema), and its unstreamed answer would count.
      if (ordered.usage === null) delete ordered.usage;
      return ordered;
    },
  };
}
