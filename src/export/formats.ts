import { type ExactIntegers, findUnsafeIntegers, mergeExactIntegers, withExactIntegers } from '../exact-integers.ts';
import { isObject, type Json } from '../json.ts';
import type { CompletionRow, MessageRow } from '../store/index.ts';
import { contentTextOf } from '../store/derived-fields.ts';
import { serializeCompletion, serializeMessageItem } from '../wire.ts';

/**
 * The lines of an export, one per stored completion, for the command-line
 * export and `GET /v1/stored-completions/export` alike: both call only this
 * module, so the two can never disagree on a byte.
 */

export const EXPORT_FORMATS = ['completions', 'finetune', 'eval'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Why a completion gives no line (a fine-tuning example; or, `too_large`, a line of any format); the summary counts each. */
export const SKIP_REASONS = {
  too_large: 'its line would be longer than the longest string JavaScript holds (about 512 MiB)',
  missing_choice: 'the chosen choice does not exist',
  no_input: 'no input message: the reply alone would teach an answer to nothing',
  empty_reply: 'the reply has no text and no tool calls',
  refusal: 'the reply is a refusal',
  length: 'the reply was cut off by the token limit',
  content_filter: 'the reply was cut off by the content filter',
  unpaired_tool_call: 'a tool call without its tool result, or a tool result without its call',
  tools_missing: 'tool calls in a request that listed no tools',
  legacy_function_call: "a legacy function call or result: the request's functions are not stored, and fine-tuning needs them",
  unsupported_role: 'an input message with a role fine-tuning does not know (it takes system, developer, user, assistant and tool)',
  empty_message: 'an input message has no content (or an empty one) and no tool calls (a refused or audio-only turn)',
  unsupported_tool: 'a tool that is not a function (a custom tool): fine-tuning takes function tools only',
  unsupported_image: 'more than 10 images, or an image given as data that is not PNG, JPEG or WEBP: fine-tuning takes no other',
  unsupported_content:
    "an input message has a part fine-tuning does not take there: audio, a file, an image outside a user's message or a refusal outside an assistant's",
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
  /** An eval line also carries the reply as a `sample` (asked for: the line is `{item}` alone otherwise, as SPEC.md gives it). */
  sample?: boolean;
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

/**
 * Input message item fields a chat request carries, besides role and content: an earlier assistant turn sent back
 * carries its `refusal` or its `audio` (by id) in place of content, as the request's assistant message allows.
 */
const SENT_FIELDS = ['name', 'tool_calls', 'tool_call_id', 'function_call', 'refusal', 'audio'] as const;

/**
 * The roles a fine-tuning example's messages may have (`developer` written as `system`; `function`, the legacy
 * result, has its own reason). A lax provider may have answered a request with another (`ipython`, a Llama tool
 * result): written as it came, the line failed the whole file's upload.
 */
const FINETUNE_ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/** Images one fine-tuning example may hold, and the kinds it takes as data (OpenAI's vision fine-tuning guide). */
const FINETUNE_MAX_IMAGES = 10;
const FINETUNE_IMAGE_DATA = /^data:image\/(png|jpeg|jpg|webp)[;,]/i;

/**
 * The content parts fine-tuning takes, by role, as the API's message schemas allow them: images (by URL or
 * data URL) in a user's message only, an assistant's refusal text, and text everywhere (system, developer,
 * tool). A lax provider may have taken an image in a system message; OpenAI would refuse the example.
 */
const FINETUNE_PART_TYPES: Record<string, ReadonlySet<string>> = {
  user: new Set(['text', 'image_url']),
  assistant: new Set(['text', 'refusal']),
};
const TEXT_ONLY = new Set(['text']);

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

/**
 * An input message as a fine-tuning example holds it: a `developer` message becomes `system`, the only name
 * fine-tuning accepts for it; an assistant turn sent as text parts becomes its text, the parts joined by new lines
 * as the messages endpoint serves its content: the form of every assistant message in OpenAI's fine-tuning guide.
 * The eval line keeps both as sent.
 */
function finetuneMessage(message: Json): Json {
  if (message.role === 'developer') return { ...message, role: 'system' };
  // An assistant turn's audio, by an id the provider has long let go, alongside its text: the text is the example.
  if (message.audio !== undefined) {
    const { audio: _audio, ...rest } = message;
    return finetuneMessage(rest);
  }
  const parts = message.content;
  if (message.role === 'assistant' && Array.isArray(parts) && parts.length > 0 && parts.every((part) => isObject(part) && part.type === 'text' && typeof part.text === 'string')) {
    return { ...message, content: contentTextOf(parts) };
  }
  return message;
}

/** A legacy function call (`functions` in the request, `function_call` in the reply), or its result. */
function isLegacyFunctionCall(message: Json): boolean {
  return isObject(message.function_call) || message.role === 'function';
}

/** A part fine-tuning refuses (audio, a file, a misplaced image): dropping it would leave a reply to what the example no longer holds. */
function hasUnsupportedPart(message: Json): boolean {
  const allowed = FINETUNE_PART_TYPES[message.role as string] ?? TEXT_ONLY;
  return Array.isArray(message.content) && message.content.some((part) => !isObject(part) || !allowed.has(part.type as string));
}

/** The assistant message of a choice as a fine-tuning example ends with it. */
function replyMessage(choice: Json): Json {
  const message = isObject(choice.message) ? choice.message : {};
  const reply: Json = { role: 'assistant' };
  // A reply given as parts (a reasoning model's thinking, then its text) teaches its text: fine-tuning takes no thinking.
  const text = contentTextOf(message.content);
  if (text !== null && text !== '') reply.content = text;
  if (hasToolCalls(message)) reply.tool_calls = message.tool_calls;
  return reply;
}

/**
 * No content, or only empty text ("" or text parts that are all ""): the cookbook's check refuses such a message.
 * A tool's empty result (a function that returns nothing) is what the call gave, and stays.
 */
function hasNoContent(message: Json): boolean {
  const content = message.content;
  if (content === undefined) return true;
  if (message.role === 'tool') return false;
  if (content === '') return true;
  return Array.isArray(content) && content.every((part) => isObject(part) && part.type === 'text' && part.text === '');
}

/** A function tool or call: `type: "function"`, or a call with a `function` and no type (a provider that sends none). */
function isFunctionTool(tool: unknown): boolean {
  return isObject(tool) && (tool.type === 'function' || (tool.type === undefined && isObject(tool.function)));
}

/** The images of the example's messages: too many, or data of a kind fine-tuning does not take. */
function hasUnsupportedImages(messages: Json[]): boolean {
  const urls = messages.flatMap((message) =>
    Array.isArray(message.content)
      ? message.content.filter((part) => isObject(part) && part.type === 'image_url').map((part) => ((part as Json).image_url as Json | undefined)?.url)
      : [],
  );
  return urls.length > FINETUNE_MAX_IMAGES || urls.some((url) => typeof url === 'string' && /^data:/i.test(url) && !FINETUNE_IMAGE_DATA.test(url));
}

function skipReason(choice: Json | undefined, input: Json[], body: Json): SkipReason | undefined {
  if (!choice) return 'missing_choice';
  // Stored without its messages (an import of a line without input_messages): fine-tuning on it teaches the reply
  // as an answer to no prompt at all.
  if (input.length === 0) return 'no_input';
  const message = isObject(choice.message) ? choice.message : {};
  if (typeof message.refusal === 'string' && message.refusal !== '') return 'refusal';
  if (choice.finish_reason === 'length') return 'length';
  if (choice.finish_reason === 'content_filter') return 'content_filter';
  // Neither OpenAI's stored completion nor ours keeps the request's `functions` (only `tools` is echoed), and a
  // function call without them is refused like a tool call without `tools`; converting the call to a tool call
  // would need the function's parameters, which are gone with them.
  if (isLegacyFunctionCall(message) || input.some(isLegacyFunctionCall)) return 'legacy_function_call';
  if (input.some((m) => !FINETUNE_ROLES.has(m.role as string))) return 'unsupported_role';
  const reply = replyMessage(choice);
  if (reply.content === undefined && reply.tool_calls === undefined) return 'empty_reply';
  // Fine-tuning refuses a message without content unless it carries calls: a replayed refusal (`content: null`, the
  // text in `refusal`, which is the API's field, not the format's) or an audio-only turn would fail the whole upload.
  if (input.some((message) => hasNoContent(message) && !hasToolCalls(message))) return 'empty_message';
  if (input.some(hasUnsupportedPart)) return 'unsupported_content';
  if (hasUnsupportedImages(input)) return 'unsupported_image';
  const calls = [reply, ...input].flatMap((message) => (hasToolCalls(message) ? (message.tool_calls as unknown[]) : []));
  if ((Array.isArray(body.tools) && !body.tools.every(isFunctionTool)) || !calls.every(isFunctionTool)) return 'unsupported_tool';
  if (!toolCallsArePaired(input)) return 'unpaired_tool_call';
  const usesTools = hasToolCalls(reply) || input.some(hasToolCalls);
  if (usesTools && !(Array.isArray(body.tools) && body.tools.length > 0)) return 'tools_missing';
  return undefined;
}

/**
 * The choice whose `index` is `choiceIndex`: a choice is named by its index, not its place in the array (an
 * imported or mirrored completion may list them in another order); by place only where no choice has an index.
 */
function choiceOf(choices: Json[], choiceIndex: number): Json | undefined {
  const indexed = choices.some((choice) => typeof choice?.index === 'number');
  return indexed ? choices.find((choice) => choice?.index === choiceIndex) : choices[choiceIndex];
}

/** OpenAI's chat fine-tuning line, or why this completion cannot make one. */
export function finetuneLine(item: ExportItem, choiceIndex: number): FormattedLine {
  const { body, choices, input, exact } = parseItem(item);
  const choice = choiceOf(choices, choiceIndex);
  const skipped = skipReason(choice, input, body);
  if (skipped) return { skipped };
  const messages = input.map(finetuneMessage);
  const example: Json = { messages: [...messages, replyMessage(choice!)] };
  if (Array.isArray(body.tools) && body.tools.length > 0) example.tools = body.tools;
  if (typeof body.parallel_tool_calls === 'boolean') example.parallel_tool_calls = body.parallel_tool_calls;
  return { line: withExactIntegers(JSON.stringify(example), exact) };
}

/**
 * A reply text that is a JSON object or array, parsed: the `output_json` a grader reads (`{{sample.output_json.x}}`);
 * OpenAI's grader fills it when the model's sample is a valid JSON string. Undefined for any other text.
 */
function outputJson(text: string): Json | undefined {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

/**
 * One line of an eval's JSONL data source: `{item}`, the item what was asked, what came back (`output`) and how to
 * find it again. With `withSample`, also the `sample` a run's `file_content` source may hold beside it (`{item,
 * sample}`): the reply in the names OpenAI's graders read from a sample (`output_text`, `output_json`,
 * `output_tools`, `choices`), so a stored completion is graded as it was answered, without sampling a model again.
 * Asked for, not the default: the project's contract (SPEC.md) gives the line as `{item}`, and a consumer that
 * reads the whole line finds only what it gives.
 */
export function evalLine(item: ExportItem, choiceIndex: number, withSample = false): string {
  const { body, choices, input, exact } = parseItem(item);
  const choice = choiceOf(choices, choiceIndex);
  const message = isObject(choice?.message) ? (choice.message as Json) : {};
  // A reply given as parts is graded on its text, as OpenAI's `output_text` is the text of the output's text parts.
  const outputText = contentTextOf(message.content) ?? '';
  const evalItem = {
    id: item.completion.id,
    model: body.model,
    input,
    output: outputText,
    metadata: JSON.parse(item.completion.metadata) as unknown,
  };
  if (!withSample) return withExactIntegers(JSON.stringify({ item: evalItem }), exact);
  const json = outputJson(outputText);
  const line = JSON.stringify({
    item: evalItem,
    sample: {
      model: body.model,
      output_text: outputText,
      ...(json === undefined ? {} : { output_json: json }),
      output_tools: Array.isArray(message.tool_calls) ? message.tool_calls : [],
      choices,
      finish_reason: choice?.finish_reason ?? null,
      usage: body.usage ?? null,
    },
  });
  // The reply's own integers too: output_json is parsed from its text, not from the stored body.
  return withExactIntegers(line, json === undefined ? exact : mergeExactIntegers(exact, findUnsafeIntegers(outputText)));
}

/**
 * The line of one completion, or why it has none. A line longer than a JavaScript string can be (536,870,888
 * characters: an eval line holds a 200 MB reply three times) is skipped as `too_large`: thrown, the RangeError ended
 * the command-line export with a bare stack trace and the HTTP export with a 500, the rest never exported.
 */
export function formatLine(item: ExportItem, options: FormatOptions): FormattedLine {
  try {
    switch (options.format) {
      case 'completions':
        return { line: completionsLine(item) };
      case 'finetune':
        return finetuneLine(item, options.choice);
      case 'eval':
        return { line: evalLine(item, options.choice, options.sample) };
    }
  } catch (err) {
    if (err instanceof RangeError && /Invalid string length/i.test(err.message)) return { skipped: 'too_large' };
    throw err;
  }
}
