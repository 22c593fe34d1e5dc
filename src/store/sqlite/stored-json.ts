import type { CompletionRecord } from '../contract.ts';

/**
 * The JSON texts SQLite keeps without the parts it can put back exactly: a third of what a
 * completion costs on disk beyond its JSON. Reads put them back in SQL, so every reader gets the
 * text the record carried, byte for byte; a text without such a part is kept whole.
 *
 * - A completion's `body` starts, as toCompletionRecord builds it from a typical response, with
 *   `{"id":…,"object":"chat.completion","created":…,"model":…`: copies of the row's own columns.
 *   Kept without that head, it starts with `,` or `}`; a whole body starts with `{`. It ends, for
 *   a request that set none of the last four echoed fields, with them as null. Kept without
 *   them, it does not end with `}`; a whole body does.
 * - An input message's `body` ends, for a plain text message, with the three fields
 *   toMessageItem writes as null. Kept without them, it does not end with `}`.
 * - A completion's `choices`, for OpenAI's usual single answer, are its content string between a
 *   fixed head and tail (below). Kept without them, they start with `"`.
 *
 * Migration 0007 compacts the rows stored before it with the same rules, in SQL; 0008 the choices
 * and the bodies' tails.
 */

/** The head a body keeps only when it is not exactly this (id and model written without escapes). */
function bodyHead(id: string, created: number, model: string): string {
  return `{"id":"${id}","object":"chat.completion","created":${created},"model":"${model}"`;
}

/**
 * What toCompletionRecord writes last for a request that set none of the last four echoed fields
 * (ECHOED_REQUEST_FIELDS in wire.ts): most requests.
 */
const BODY_TAIL = ',"tool_choice":null,"tools":null,"input_user":null,"response_format":null}';

/**
 * The body as stored: without its head when the head is exactly the columns' copy, then without
 * its tail of nulls unless what remains would be empty or end with `}` (which reads as whole).
 */
export function storedBody(record: CompletionRecord): string {
  const { body, id, created, model } = record;
  return withoutTail(withoutHead(body, id, created, model), BODY_TAIL);
}

function withoutHead(body: string, id: string, created: number, model: string): string {
  // A safe integer is stored as an INTEGER, whose text in SQL is the same decimal digits.
  if (!Number.isSafeInteger(created)) return body;
  const head = bodyHead(id, created, model);
  const next = body[head.length];
  return body.startsWith(head) && (next === ',' || next === '}') ? body.slice(head.length) : body;
}

/** `text` without `tail`, unless what remains is empty or ends with `}`: a stored text that ends with `}` is whole. */
function withoutTail(text: string, tail: string): string {
  if (!text.endsWith(tail) || text.length === tail.length) return text;
  const kept = text.slice(0, -tail.length);
  return kept.endsWith('}') ? text : kept;
}

/** True for completions row `alias` when its body is kept without the head. */
function headlessSql(alias: string): string {
  return `substr(${alias}.body, 1, 1) IN (',', '}')`;
}

/**
 * bodyHead in SQL, from the row's columns (never NULL where a body is headless). `concat` allocates the
 * result once; each `||` copies everything before it again.
 */
function bodyHeadSql(alias: string): string {
  return `concat('{"id":"', ${alias}.id, '","object":"chat.completion","created":', ${alias}.created, ',"model":"', ${alias}.model, '"')`;
}

/**
 * True when the stored text in `column` ends with `}` (is whole at its end). Read from the bytes: a
 * `substr` of a TEXT counted from its end counts every character of it first.
 */
function endsWithBraceSql(column: string): string {
  return `substr(CAST(${column} AS BLOB), -1) = X'7D'`;
}

/** The stored body of completions row `alias` as the record carried it. */
export function bodySql(alias: string): string {
  return `CASE WHEN ${headlessSql(alias)} THEN ${bodyHeadSql(alias)} || ${alias}.body ELSE ${alias}.body END
    || CASE WHEN ${endsWithBraceSql(`${alias}.body`)} THEN '' ELSE '${BODY_TAIL}' END`;
}

/**
 * The same body without its closing brace, for SQL that goes on writing the object (a list page
 * built in SQL). The brace is cut from the bytes: `substr` and `length` of a TEXT count characters,
 * which costs a scan of the whole body each (measured in-process: 40% more CPU for a 20-item page).
 * A body kept without its tail gets the tail back, without the brace (`concat` skips the NULLs).
 * Given as arguments of the caller's own `concat`, not as a `concat` of its own: each nesting
 * copies the body once more (6% of a 20-item page's instructions).
 */
export function openBodyParts(alias: string): string {
  const whole = endsWithBraceSql(`${alias}.body`);
  return `CASE WHEN ${headlessSql(alias)} THEN ${bodyHeadSql(alias)} END,
    CASE WHEN ${whole} THEN substr(CAST(${alias}.body AS BLOB), 1, octet_length(${alias}.body) - 1) ELSE ${alias}.body END,
    CASE WHEN ${whole} THEN NULL ELSE '${BODY_TAIL.slice(0, -1)}' END`;
}

/** What toMessageItem writes last for a message with no refusal, no name and text content. */
const MESSAGE_TAIL = ',"refusal":null,"name":null,"content_parts":null}';

/** An input message's body as stored: without the tail of nulls (unless what precedes it ends with `}`, which would read as whole). */
export function storedMessage(body: string): string {
  return withoutTail(body, MESSAGE_TAIL);
}

/** A stored message body (column `column`) as the record carried it. */
export function messageSql(column: string): string {
  return `CASE WHEN ${endsWithBraceSql(column)} THEN ${column} ELSE ${column} || '${MESSAGE_TAIL}' END`;
}

/**
 * A completion's choices (the joined column), as OpenAI's replies have them when there is one answer
 * that stopped: everything around the content string is always this. Kept without it, the column
 * starts with `"` (the content), which a kept-whole column never does: it starts with `{` or is empty.
 */
const CHOICE_HEAD = '{"index":0,"message":{"role":"assistant","content":';
const CHOICE_TAIL = ',"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}';

/** The joined choices as stored: without the fixed head and tail around a first content string. */
export function storedChoices(joined: string): string {
  if (joined.length <= CHOICE_HEAD.length + CHOICE_TAIL.length || !joined.startsWith(CHOICE_HEAD) || !joined.endsWith(CHOICE_TAIL)) return joined;
  const kept = joined.slice(CHOICE_HEAD.length, -CHOICE_TAIL.length);
  return kept.startsWith('"') ? kept : joined;
}

/** The stored choices (column `column`) as the record carried them, joined. */
export function choicesSql(column: string): string {
  return `CASE WHEN substr(${column}, 1, 1) = '"' THEN concat('${CHOICE_HEAD}', ${column}, '${CHOICE_TAIL}') ELSE ${column} END`;
}
