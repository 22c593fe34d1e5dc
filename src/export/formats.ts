import { type ExactIntegers, findUnsafeIntegers, mergeExactIntegers, withExactIntegers } from '../exact-integers.ts';
import { isObject, type Json } from '../json.ts';
import type { CompletionRow, MessageRow } from '../store/index.ts';
import { serializeCompletion, serializeMessageItem } from '../wire.ts';

/**
 * The lines of an export, one per stored completion, for the command-line
 * export and `GET /v1/stored-completions/export` alike: both call only this
 * module, so the two can never disagree on a byte.
 */

export const EXPORT_FORMATS = ['completions', 'finetune', 'eval'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Why a completion gives no fine-tuning example; the summary counts each. */
export const SKIP_REASONS = {
  missing_choice: 'the chosen choice does not exist',
  empty_reply: 'the reply has no text and no tool calls',
  refusal: 'the reply is a refusal',
  length: 'the reply was cut off by the token limit',
  content_filter: 'the reply was cut off by the content filter',
  unpaired_tool_call: 'a tool call without its tool result, or a tool result without its call',
  tools_missing: 'tool calls in a request that listed no tools',
  empty_message: 'an input message has no content and no tool calls (a refused or audio-only turn)',
} as const;
export type SkipReason = keyof typeof SKIP_REASONS;

/** A stored completion as the export reads it: its row and its input message rows in order. */
export interface ExportItem {
  completion: CompletionRow;
  messages: MessageRow[];
}

export type FormattedLine = { line: string } | { skipped: SkipReason };

export interface FormatOptions {
  format: ExportFormat;
  /** The choice a finetune or eval line is made of (default 0). */
  choice: number;
}

/**
 * The `completions` line: retrieve's exact text with `input_messages` (the
 * messages endpoint's items) appended, built by concatenation like the API's
 * own responses, so a line is what the API serves byte for byte.
 */
export function completionsLine(item: ExportItem): string {
  const completion = serializeCompletion(item.completion);
  const messages = item.messages.map((m) => serializeMessageItem(item.completion.id, m)).join(',');
  return `${completion.slice(0, -1)},"input_messages":[${messages}]}`;
}

/** Input message item fields a chat request carries, besides role and content (refusal and audio are the API's, not the sender's). */
const SENT_FIELDS = ['name', 'tool_calls', 'tool_call_id', 'function_call'] as const;

/**
 * A stored message item turned back into the message as it was sent: the
 * content parts when it was sent as parts, the plain text otherwise.
 */
function sentMessage(item: Json): Json {
  const message: Json = { role: item.role };
  const content = item.content_parts ?? item.content;
  if (content !== null && content !== undefined) message.content = content;
  for (const field of SENT_FIELDS) {
    if (item[field] !== null && item[field] !== undefined) message[field] = item[field];
  }
  return message;
}

/** The stored texts' integers past 2^53, which the lines, written from parsed JSON, put back as stored (src/exact-integers.ts). */
function exactIntegersOfItem(item: ExportItem): ExactIntegers | undefined {
  let exact: ExactIntegers | undefined;
  for (const text of [item.completion.body, item.completion.choices ?? '', ...item.messages.map((m) => m.body)]) {
    exact = mergeExactIntegers(exact, findUnsafeIntegers(text));
  }
  return exact;
}

function parseItem(item: ExportItem): { body: Json; choices: Json[]; input: Json[]; exact: ExactIntegers | undefined } {
  return {
    body: JSON.parse(item.completion.body) as Json,
    choices: JSON.parse(`[${item.completion.choices ?? ''}]`) as Json[],
    input: item.messages.map((m) => sentMessage(JSON.parse(m.body) as Json)),
    exact: exactIntegersOfItem(item),
  };
}

function hasToolCalls(message: Json): boolean {
  return Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
}

/** True when every tool call is answered by a later tool message and every tool message answers an earlier call. */
function toolCallsArePaired(messages: Json[]): boolean {
  const open = new Set<unknown>();
  for (const message of messages) {
    if (message.role === 'tool') {
      if (!open.delete(message.tool_call_id)) return false;
      continue;
    }
    // A new turn from anyone but a tool while calls are still open: those calls went unanswered.
    if (open.size > 0) return false;
    if (hasToolCalls(message)) for (const call of message.tool_calls as Json[]) open.add(call.id);
  }
  return open.size === 0;
}

/** The assistant message of a choice as a fine-tuning example ends with it. */
function replyMessage(choice: Json): Json {
  const message = isObject(choice.message) ? choice.message : {};
  const reply: Json = { role: 'assistant' };
  if (typeof message.content === 'string' && message.content !== '') reply.content = message.content;
  if (hasToolCalls(message)) reply.tool_calls = message.tool_calls;
  return reply;
}

function skipReason(choice: Json | undefined, input: Json[], body: Json): SkipReason | undefined {
  if (!choice) return 'missing_choice';
  const message = isObject(choice.message) ? choice.message : {};
  if (typeof message.refusal === 'string' && message.refusal !== '') return 'refusal';
  if (choice.finish_reason === 'length') return 'length';
  if (choice.finish_reason === 'content_filter') return 'content_filter';
  const reply = replyMessage(choice);
  if (reply.content === undefined && reply.tool_calls === undefined) return 'empty_reply';
  // Fine-tuning refuses a message without content unless it carries calls: a replayed refusal (`content: null`, the
  // text in `refusal`, which is the API's field, not the format's) or an audio-only turn would fail the whole upload.
  if (input.some((message) => message.content === undefined && !hasToolCalls(message) && message.function_call === undefined)) return 'empty_message';
  if (!toolCallsArePaired(input)) return 'unpaired_tool_call';
  const usesTools = hasToolCalls(reply) || input.some(hasToolCalls);
  if (usesTools && !(Array.isArray(body.tools) && body.tools.length > 0)) return 'tools_missing';
  return undefined;
}

/** OpenAI's chat fine-tuning line, or why this completion cannot make one. */
export function finetuneLine(item: ExportItem, choiceIndex: number): FormattedLine {
  const { body, choices, input, exact } = parseItem(item);
  const choice = choices[choiceIndex];
  const skipped = skipReason(choice, input, body);
  if (skipped) return { skipped };
  // A `developer` message becomes `system`, the only name fine-tuning accepts for it; the eval line keeps the role as sent.
  const messages = input.map((message) => (message.role === 'developer' ? { ...message, role: 'system' } : message));
  const example: Json = { messages: [...messages, replyMessage(choice!)] };
  if (Array.isArray(body.tools) && body.tools.length > 0) example.tools = body.tools;
  if (typeof body.parallel_tool_calls === 'boolean') example.parallel_tool_calls = body.parallel_tool_calls;
  return { line: withExactIntegers(JSON.stringify(example), exact) };
}

/** One item of an eval's JSONL data source: what was asked, what came back, and how to find it again. */
export function evalLine(item: ExportItem, choiceIndex: number): string {
  const { body, choices, input, exact } = parseItem(item);
  const message = isObject(choices[choiceIndex]?.message) ? (choices[choiceIndex]!.message as Json) : {};
  const line = JSON.stringify({
    item: {
      id: item.completion.id,
      model: body.model,
      input,
      output: typeof message.content === 'string' ? message.content : '',
      metadata: JSON.parse(item.completion.metadata) as unknown,
    },
  });
  return withExactIntegers(line, exact);
}

export function formatLine(item: ExportItem, options: FormatOptions): FormattedLine {
  switch (options.format) {
    case 'completions':
      return { line: completionsLine(item) };
    case 'finetune':
      return finetuneLine(item, options.choice);
    case 'eval':
      return { line: evalLine(item, options.choice) };
  }
}
