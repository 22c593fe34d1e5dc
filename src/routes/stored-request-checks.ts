import { ApiError, describeJsonType } from '../errors.ts';
import { isObject } from '../json.ts';

/**
 * Checks a stored create's input messages before the provider is asked. OpenAI refuses these
 * requests itself; a more permissive provider would let them through, and the messages endpoint
 * would then serve items outside OpenAI's schema (`role: null`, a content part that is `null`).
 * Only what the stored items depend on is checked, so roles and part types other providers
 * accept (`ipython`, `input_audio`, `file`) still go on.
 */
export function checkStoredMessages(messages: unknown): void {
  if (messages === undefined || messages === null) throw missing('messages');
  if (!Array.isArray(messages)) throw wrongType('messages', 'an array', messages);
  messages.forEach((message: unknown, index) => checkMessage(message, `messages[${index}]`));
}

function checkMessage(message: unknown, param: string): void {
  if (!isObject(message)) throw wrongType(param, 'an object', message);
  if (message.role === undefined || message.role === null) throw missing(`${param}.role`);
  if (typeof message.role !== 'string') throw wrongType(`${param}.role`, 'a string', message.role);
  // Served as the item's own fields: strings or null, as a message's are.
  for (const field of ['refusal', 'name', 'tool_call_id'] as const) {
    const value = message[field];
    if (value !== undefined && value !== null && typeof value !== 'string') throw wrongType(`${param}.${field}`, 'a string', value);
  }
  // The role's own fields, served as they came where the schema has an array or an object.
  const toolCalls = message.tool_calls;
  if (toolCalls !== undefined && toolCalls !== null) {
    if (!Array.isArray(toolCalls)) throw wrongType(`${param}.tool_calls`, 'an array', toolCalls);
    toolCalls.forEach((call: unknown, index) => {
      if (!isObject(call)) throw wrongType(`${param}.tool_calls[${index}]`, 'an object', call);
    });
  }
  for (const field of ['function_call', 'audio'] as const) {
    const value = message[field];
    if (value !== undefined && value !== null && !isObject(value)) throw wrongType(`${param}.${field}`, 'an object', value);
  }
  // A number or an object has no place in the item's `content` (a string) nor in `content_parts`: a lax provider
  // answered it, and the stored messages said `content: null`, the input lost.
  const content = message.content;
  if (Array.isArray(content)) {
    content.forEach((part: unknown, index) => checkContentPart(part, `${param}.content[${index}]`));
  } else if (content !== undefined && content !== null && typeof content !== 'string') {
    throw wrongType(`${param}.content`, 'one of a string or array of objects', content);
  }
}

/** A part is served as it came in `content_parts`; a text part's text also makes the item's `content`. */
function checkContentPart(part: unknown, param: string): void {
  if (!isObject(part)) throw wrongType(param, 'an object', part);
  if (part.type === undefined || part.type === null) throw missing(`${param}.type`);
  if (typeof part.type !== 'string') throw wrongType(`${param}.type`, 'a string', part.type);
  if (part.type === 'text') {
    if (part.text === undefined || part.text === null) throw missing(`${param}.text`);
    if (typeof part.text !== 'string') throw wrongType(`${param}.text`, 'a string', part.text);
  } else if (part.type === 'image_url') {
    if (part.image_url === undefined || part.image_url === null) throw missing(`${param}.image_url`);
    if (!isObject(part.image_url)) throw wrongType(`${param}.image_url`, 'an object', part.image_url);
    const { url } = part.image_url;
    if (url === undefined || url === null) throw missing(`${param}.image_url.url`);
    if (typeof url !== 'string') throw wrongType(`${param}.image_url.url`, 'a string', url);
  }
}

/**
 * A stored completion is listed, filtered and counted by its model's name: a number or an object
 * (which OpenAI refuses, and a lax provider may answer) would be stored as no model at all. An
 * absent model is left to the provider, whose answer names one.
 */
export function checkStoredModel(model: unknown): void {
  if (model !== undefined && model !== null && typeof model !== 'string') throw wrongType('model', 'a string', model);
}

/**
 * A stored stream always asks the provider for usage (src/routes/stream-upstream.ts), which it can
 * only add to an object whose `include_usage` is a boolean; OpenAI refuses anything else, and a
 * provider that did not would leave the stored completion without usage.
 */
export function checkStoredStreamOptions(options: unknown): void {
  if (options === undefined || options === null) return;
  if (!isObject(options)) throw wrongType('stream_options', 'an object', options);
  const includeUsage = options.include_usage;
  if (includeUsage !== undefined && includeUsage !== null && typeof includeUsage !== 'boolean') {
    throw wrongType('stream_options.include_usage', 'a boolean', includeUsage);
  }
}

function missing(param: string): ApiError {
  return ApiError.badRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
}

function wrongType(param: string, expected: string, value: unknown): ApiError {
  return ApiError.badRequest(`Invalid type for '${param}': expected ${expected}, but got ${describeJsonType(value)} instead.`, param, 'invalid_type');
}
