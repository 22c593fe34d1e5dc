import { randomFillSync } from 'node:crypto';
import type { CompletionListJson, CompletionRecord, CompletionRow, MessageRow, Page, UsageSummary } from './store/index.ts';
import { contentTextOf, formatUtcDay, isStorableCreated, tokenCountsOfUsage, withSearchText } from './store/derived-fields.ts';
import type { Metadata } from './validation.ts';
import { type ExactIntegers, withExactIntegers } from './exact-integers.ts';
import { isObject, type Json } from './json.ts';
import { storedJsonText } from './key-order.ts';

/**
 * OpenAI's wire format, in one place: how a request and the upstream's response
 * become a stored record, and how stored rows become OpenAI's JSON again.
 * OpenAI owns this format; the tables are ours, so nothing here is derived from them.
 */

/** Request fields a stored completion echoes back, with the name it carries there; null when the request had none. */
const ECHOED_REQUEST_FIELDS: [requestField: string, storedField: string][] = [
  ['seed', 'seed'],
  ['temperature', 'temperature'],
  ['top_p', 'top_p'],
  ['presence_penalty', 'presence_penalty'],
  ['frequency_penalty', 'frequency_penalty'],
  ['tool_choice', 'tool_choice'],
  ['tools', 'tools'],
  ['user', 'input_user'],
  ['response_format', 'response_format'],
];

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Random bytes drawn from the system's generator 4 KiB at a time: ids are minted for every
 * request and every stored completion, and a call to the generator per id cost more than the rest
 * of a completion id's making (randomBytes(29): 8% of the bench's seeding profile).
 */
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;

/** The pool's offset of `count` fresh random bytes (count at most the pool's size), valid until the next call. */
function takeRandomBytes(count: number): number {
  if (randomOffset + count > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const at = randomOffset;
  randomOffset += count;
  return at;
}

/** A fresh completion id in OpenAI's form: `chatcmpl-` and 29 letters and digits. */
export function newCompletionId(): string {
  const at = takeRandomBytes(29);
  let id = 'chatcmpl-';
  // 62 letters and digits from a byte: the slight bias of `% 62` does not matter for uniqueness.
  for (let i = at; i < at + 29; i++) id += ID_ALPHABET[randomPool[i]! % ID_ALPHABET.length];
  return id;
}

/**
 * A request id in OpenAI's form: `req_` and 32 hex digits (128 random bits).
 * Every response gets one, so the bytes come from the pool; hex from the pool costs a fifth of
 * formatting a randomUUID without its dashes (measured: 0.4 against 2 µs, a few percent of a small request).
 */
export function newRequestId(): string {
  const at = takeRandomBytes(16);
  return `req_${randomPool.toString('hex', at, at + 16)}`;
}

/** A stored input message item without its id: the fields OpenAI serves for messages. */
export function toMessageItem(message: unknown): Json {
  const m = isObject(message) ? message : {};
  const item: Json = {
    role: m.role ?? null,
    content: contentTextOf(m.content),
    refusal: m.refusal ?? null,
    name: m.name ?? null,
    content_parts: Array.isArray(m.content) ? m.content : null,
  };
  // A role's own field when the message has one: one sent as null (a reply sent back as OpenAI serves it, with
  // `"tool_calls": null, "function_call": null`) is none, and OpenAI's schema for these items has no null for them.
  for (const field of ['tool_calls', 'tool_call_id', 'audio', 'function_call']) {
    if (m[field] !== undefined && m[field] !== null) item[field] = m[field];
  }
  return item;
}

/** A choice as the stored completion schema requires it: index, message, finish_reason and logprobs always present. */
function toStoredChoice(choice: unknown, position: number): Json {
  const c = isObject(choice) ? choice : {};
  const message: Json = { role: 'assistant', content: null, refusal: null };
  if (isObject(c.message)) {
    const given = c.message;
    copyFields(message, given, (key) => isNullCallField(key, given[key]));
    if (Array.isArray(message.tool_calls)) message.tool_calls = message.tool_calls.map(typedToolCall);
  }
  const stored = copyFields({}, c);
  stored.index = typeof c.index === 'number' ? c.index : position;
  stored.message = message;
  stored.finish_reason = storedFinishReason(c.finish_reason, message);
  stored.logprobs = c.logprobs ?? null;
  return stored;
}

/**
 * A reply's `tool_calls` or `function_call` sent as null (Mistral's plain answers have `"tool_calls": null`, LiteLLM's
 * both): none, as OpenAI's schema has them (an array, an object, or absent) and as the same provider's stream stores
 * it; the input messages' items leave them out alike (toMessageItem).
 */
function isNullCallField(key: string, value: unknown): boolean {
  return value === null && (key === 'tool_calls' || key === 'function_call');
}

/**
 * A tool call without `type`, typed as the call it is: `function` (`custom` for a custom tool's call), after its id
 * as OpenAI orders it. Mistral's API answers its calls without it, plain and streamed, as do Mistral's models on
 * Azure and vLLM answering a named `tool_choice` when they stream; OpenAI's schema requires it, code that tells
 * calls apart by `type === 'function'` passed them by, and the SDK's stream accumulator refuses a call without it.
 * A type the provider did give (an empty one too) is kept.
 */
function typedToolCall(call: unknown): unknown {
  if (!isObject(call) || (call.type !== undefined && call.type !== null)) return call;
  const type = isObject(call.custom) ? 'custom' : isObject(call.function) ? 'function' : undefined;
  if (type === undefined) return call;
  const typed: Json = {};
  if (Object.hasOwn(call, 'id')) typed.id = call.id;
  typed.type = type;
  return copyFields(typed, call, (key) => key === 'id' || key === 'type');
}

/**
 * OpenAI's own value for the names other providers give the same ends (Together's `eos`, Hugging Face TGI's
 * `eos_token`, Anthropic's `end_turn`, `max_tokens`, `tool_use` and `refusal`, Cohere's `COMPLETE`, Gemini's `SAFETY`
 * and `RECITATION`, Bedrock's `guardrail_intervened`): OpenAI's schema allows only its five, and the
 * .NET SDK refuses a list page holding any other. A value with no OpenAI meaning (vLLM's `abort`, DeepSeek's
 * `insufficient_system_resource`) is kept as the provider said it: mapping it would say something the provider did not.
 */
const openAiFinishReasons = new Map<string, string>([
  ['stop', 'stop'], ['length', 'length'], ['tool_calls', 'tool_calls'], ['content_filter', 'content_filter'], ['function_call', 'function_call'],
  ['eos', 'stop'], ['eos_token', 'stop'], ['end_turn', 'stop'], ['stop_sequence', 'stop'],
  ['max_tokens', 'length'], ['model_length', 'length'], ['max_length', 'length'],
  ['tool_use', 'tool_calls'],
  ['complete', 'stop'],
  ['safety', 'content_filter'], ['recitation', 'content_filter'], ['content_filtered', 'content_filter'],
  ['guardrail_intervened', 'content_filter'], ['refusal', 'content_filter'],
]);

function storedFinishReason(given: unknown, message: Json): unknown {
  if (given === null || given === undefined || given === '') return impliedFinishReason(message);
  return typeof given === 'string' ? (openAiFinishReasons.get(given.toLowerCase()) ?? given) : given;
}

/**
 * Why a generation ended, for a choice whose provider did not say (a stream that reached `[DONE]` without a
 * `finish_reason`, a lax server's `null`): OpenAI's schema requires one of its values, and strict clients (the .NET
 * and Java SDKs) refuse a completion, or a whole list page, with a null one. The reply's own shape tells it: its
 * tool calls (or legacy function call) if it made some, else it ended by itself (`stop`).
 */
function impliedFinishReason(message: Json): string {
  if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) return 'tool_calls';
  if (isObject(message.function_call)) return 'function_call';
  return 'stop';
}

/**
 * OpenAI's name for the tier another provider names its own way: Groq's `on_demand` ("the default tier ... the
 * standard tier") is OpenAI's `default`, its `performance` ("the highest tier ... reliable low latency") OpenAI's
 * `priority` (console.groq.com/docs/service-tiers). OpenAI's schema allows only its own names, and clients generated
 * from it with strict enums (Rust's async-openai: Scale, Default, Flex, Priority) refuse a whole list page holding
 * another. A tier with no OpenAI counterpart is kept as the provider said it.
 */
const openAiServiceTiers = new Map<string, string>([
  ['on_demand', 'default'],
  ['performance', 'priority'],
]);

function storedServiceTier(given: string): string {
  return openAiServiceTiers.get(given) ?? given;
}

/**
 * Copies `source`'s own fields into `target` in their order, as a spread would, but without one: on
 * Node 20 a spread of a parsed object followed by added fields built new hidden classes on every
 * call (`toCompletionRecord` of the bench's create: 29-33 µs with spreads, 8-13 µs without). `skip` names fields
 * left out. `__proto__` is defined as an own field, as a spread defines it, never set as the prototype.
 */
export function copyFields(target: Json, source: Json, skip?: (key: string) => boolean): Json {
  for (const key of Object.keys(source)) {
    if (skip?.(key)) continue;
    if (key === '__proto__') Object.defineProperty(target, key, { value: source[key], enumerable: true, writable: true, configurable: true });
    else target[key] = source[key];
  }
  return target;
}

/** The upstream's fields a stored body does not keep as they came: choices and metadata are stored apart. */
function isStoredApart(key: string): boolean {
  return key === 'choices' || key === 'metadata';
}

export interface StoredCompletionInput {
  /** The client's request body as it arrived (before `store`/`metadata` were taken out). */
  request: Json;
  /** The upstream's `chat.completion` (or a completion assembled from a stream). */
  response: Json;
  id: string;
  requestId: string;
  metadata: Metadata;
  /** Unix seconds now: when it is stored, and `created` when the upstream gave none. */
  now: number;
  /** Integers past 2^53 as the client (and the provider) wrote them: the echoed fields, messages and choices keep them. */
  exactIntegers?: ExactIntegers | undefined;
}

/**
 * The `created` kept for a provider's value: whole seconds as sent; a fraction (a provider that
 * sends `time.time()`, 1700000000.75) cut to its second, as a stored completion's `created` is an
 * integer; anything else (none, a string, outside the years 0000 to 9999, whose day no usage row
 * could name) the time it arrived.
 */
function storedCreated(value: unknown, now: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return now;
  const seconds = Math.floor(value);
  return isStorableCreated(seconds) ? seconds : now;
}

/**
 * Builds the record the store writes: every field the upstream returned, kept as
 * it came, plus the request fields OpenAI echoes on a stored completion.
 */
export function toCompletionRecord({ request, response, id, requestId, metadata, now, exactIntegers }: StoredCompletionInput): CompletionRecord {
  const { choices } = response;
  const requestedModel = typeof request.model === 'string' ? request.model : '';
  const model = typeof response.model === 'string' ? response.model : requestedModel;
  const created = storedCreated(response.created, now);
  const body = copyFields({}, response, isStoredApart);
  if (typeof body.service_tier === 'string') body.service_tier = storedServiceTier(body.service_tier);
  body.id = id;
  body.object = 'chat.completion';
  body.created = created;
  body.model = model;
  body.request_id = requestId;
  for (const [requestField, storedField] of ECHOED_REQUEST_FIELDS) body[storedField] = request[requestField] ?? null;
  const messages = (Array.isArray(request.messages) ? request.messages : []).map(toMessageItem);
  const storedChoices = (Array.isArray(choices) ? choices : []).map(toStoredChoice);
  return withSearchText({
    id,
    created,
    storedAt: now,
    model,
    requestedModel,
    metadata,
    // The texts with the keys of the request's objects (a tool's schema) in the order the client wrote them (planCreate).
    body: withExactIntegers(storedJsonText(body), exactIntegers),
    choices: storedChoices.map((c) => withExactIntegers(storedJsonText(c), exactIntegers)),
    messages: messages.map((m) => withExactIntegers(storedJsonText(m), exactIntegers)),
    tokens: tokenCountsOfUsage(body.usage),
  }, messages, storedChoices);
}

/** A stored completion's JSON, put together from its stored texts without parsing them. */
export function serializeCompletion(row: CompletionRow): string {
  return `${row.body.slice(0, -1)},"choices":[${row.choices ?? ''}],"metadata":${row.metadata}}`;
}

const LIST_HEAD = '{"object":"list","data":[';
const LIST_HEAD_BYTES = Buffer.from(LIST_HEAD);

function listTail(firstId: string | null, lastId: string | null, hasMore: boolean): string {
  return `],"first_id":${JSON.stringify(firstId)},"last_id":${JSON.stringify(lastId)},"has_more":${hasMore}}`;
}

function serializeList(items: string[], firstId: string | null, lastId: string | null, hasMore: boolean): string {
  return `${LIST_HEAD}${items.join(',')}${listTail(firstId, lastId, hasMore)}`;
}

/** A page of rows serialized for the list endpoint, for a store that reads rows (PostgreSQL). */
export function toCompletionListJson(page: Page<CompletionRow>): CompletionListJson {
  const { items } = page;
  return {
    items: Buffer.from(items.map(serializeCompletion).join(',')),
    count: items.length,
    firstId: items[0]?.id ?? null,
    lastId: items.at(-1)?.id ?? null,
    hasMore: page.hasMore,
  };
}

/**
 * The list endpoint's body, as bytes: the items come serialized from the store, and a Buffer goes
 * to the socket as it is (a 25 KB string would be flattened and encoded to UTF-8 there).
 */
export function serializeCompletionList(page: CompletionListJson): Buffer<ArrayBuffer> {
  return Buffer.concat([LIST_HEAD_BYTES, page.items, Buffer.from(listTail(page.firstId, page.lastId, page.hasMore))]);
}

/** The id the messages endpoint gives an input message: its completion's id and its position. */
export function messageItemId(completionId: string, idx: number): string {
  return `${completionId}-${idx}`;
}

/** One item of the messages endpoint: the stored text with its derived id put first. */
export function serializeMessageItem(completionId: string, message: MessageRow): string {
  return `{"id":${JSON.stringify(messageItemId(completionId, message.idx))},${message.body.slice(1)}`;
}

export function serializeMessageList(completionId: string, page: Page<MessageRow>): string {
  const { items } = page;
  const first = items[0];
  const last = items.at(-1);
  return serializeList(
    items.map((m) => serializeMessageItem(completionId, m)),
    first ? messageItemId(completionId, first.idx) : null,
    last ? messageItemId(completionId, last.idx) : null,
    page.hasMore,
  );
}

export function serializeDeleted(id: string): string {
  return JSON.stringify({ object: 'chat.completion.deleted', id, deleted: true });
}

/** The usage extension's body (docs/api.md): one item per day and model, and whether the figures were bounded. */
export function serializeUsage(summary: UsageSummary): string {
  const data = summary.rows.map((row) => ({
    day: formatUtcDay(row.day),
    model: row.model,
    completions: row.completions,
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    total_tokens: row.totalTokens,
  }));
  return JSON.stringify({ object: 'list', data, truncated: summary.truncated });
}
