import { isObject, type Json } from '../json.ts';
import { segmentCjk } from './cjk-segments.ts';
import type { CompletionRecord } from './contract.ts';

/**
 * What every backend derives from a record the same way: the text `search`
 * looks at, the token counts usage adds up, and the UTC day a completion counts in.
 */

export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

function tokenCount(usage: Record<string, unknown>, field: string): number {
  const value = usage[field];
  // `> 0`, not `>= 0`: a -0 (JSON.parse("-0")) counts as 0, as it does once its body is written out and read back.
  return Number.isSafeInteger(value) && (value as number) > 0 ? (value as number) : 0;
}

/** The response's `usage` figures; a missing, negative or non-integer one counts as 0. */
export function tokenCountsOf(record: CompletionRecord): TokenCounts {
  if (record.tokens) return record.tokens;
  const parsed: unknown = JSON.parse(record.body);
  return tokenCountsOfUsage(isObject(parsed) ? parsed.usage : undefined);
}

/** The figures of a response's `usage` object (anything else counts as all 0). */
export function tokenCountsOfUsage(value: unknown): TokenCounts {
  const usage = isObject(value) ? value : {};
  return {
    promptTokens: tokenCount(usage, 'prompt_tokens'),
    completionTokens: tokenCount(usage, 'completion_tokens'),
    totalTokens: tokenCount(usage, 'total_tokens'),
  };
}

/** The text of a message's content: a string as it is, an array's text parts joined by new lines. */
export function contentTextOf(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const texts = content
    .filter((part): part is Json => isObject(part) && part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text as string);
  return texts.length === 0 ? null : texts.join('\n');
}

/**
 * The text `search` matches: each input message's `content` (the text of its text parts
 * when it was an array) and `refusal` (an assistant's, sent back in the conversation), and
 * each choice's `content` (likewise: a reasoning model's answer can come as parts) and `refusal`, one per line, with its
 * CJK runs written as characters and pairs (cjk-segments.ts): what the search index holds.
 * Tool call arguments, images and audio are not text a person searches for.
 * Read from the record's texts, unless whoever built it found it in the values they were written from (withSearchText).
 */
export function searchTextOf(record: Pick<CompletionRecord, 'messages' | 'choices'>): string {
  const known = knownSearchTexts.get(record.messages);
  if (known !== undefined && known.choices === record.choices) return known.text;
  const texts: string[] = [];
  for (const json of record.messages) messageSearchTexts(JSON.parse(json), texts);
  for (const json of record.choices) choiceSearchTexts(JSON.parse(json), texts);
  return segmentCjk(texts.join('\n'));
}

/**
 * Search texts found in values, by the `messages` texts written from them, with the `choices` texts they go with: a
 * record copied with other messages or choices (a new array) is read from its texts again.
 */
const knownSearchTexts = new WeakMap<readonly string[], { choices: readonly string[]; text: string }>();

/**
 * `record`, its search text found in the values its `messages` and `choices` are the JSON texts of (message items,
 * stored choices), for searchTextOf to answer without parsing the texts again: a stored create's request, images and
 * all, was parsed once when it was read, and parsing its messages again to find a line of text held the only thread
 * for a fifth of a second per 28 MB image. Strings come back from JSON.stringify and JSON.parse as they were, so the
 * text is the same.
 */
export function withSearchText<R extends Pick<CompletionRecord, 'messages' | 'choices'>>(record: R, messages: readonly unknown[], choices: readonly unknown[]): R {
  const texts: string[] = [];
  for (const item of messages) messageSearchTexts(item, texts);
  for (const choice of choices) choiceSearchTexts(choice, texts);
  knownSearchTexts.set(record.messages, { choices: record.choices, text: segmentCjk(texts.join('\n')) });
  return record;
}

/** An input message item's searched texts, added to `texts`. */
function messageSearchTexts(item: unknown, texts: string[]): void {
  if (isObject(item) && typeof item.content === 'string') texts.push(item.content);
  if (isObject(item) && typeof item.refusal === 'string') texts.push(item.refusal);
}

/** A stored choice's searched texts, added to `texts`. */
function choiceSearchTexts(choice: unknown, texts: string[]): void {
  const message = isObject(choice) && isObject(choice.message) ? choice.message : {};
  const content = contentTextOf(message.content);
  if (content !== null) texts.push(content);
  if (typeof message.refusal === 'string') texts.push(message.refusal);
}

/** A letter or digit (what full-text indexes keep as tokens; everything else separates them). */
const WORD_CHARACTER = /[\p{L}\p{N}\p{Co}]/u;

/**
 * A search as the words that must all occur: split on whitespace, a word without
 * any letter or digit dropped (`*`, `--`). Empty when nothing is left, which matches nothing.
 * Each word is matched whole, its punctuation-separated parts side by side ("don't", "e-mail"), and
 * a run of CJK characters in it as its characters and pairs side by side (cjk-segments.ts).
 */
export function searchWords(search: string): string[] {
  return search
    .split(/\s+/u)
    .filter((word) => WORD_CHARACTER.test(word))
    .map(segmentCjk);
}

export const SECONDS_PER_DAY = 86_400;

/** The UTC day a `created` counts in, as days since 1970-01-01 (negative before). */
export function utcDayOf(created: number): number {
  return Math.floor(created / SECONDS_PER_DAY);
}

/**
 * The first and last second whose UTC day has a four-digit year (0000-01-01 to 9999-12-31): usage names a
 * day `YYYY-MM-DD`, and PostgreSQL counts days in an integer that a `created` past 2^31 days overflows.
 */
export const EARLIEST_CREATED = -62_167_219_200;
export const LATEST_CREATED = 253_402_300_799;

/** True for a `created` a completion may be stored with: whole seconds in the years 0000 to 9999. */
export function isStorableCreated(seconds: unknown): seconds is number {
  return Number.isSafeInteger(seconds) && (seconds as number) >= EARLIEST_CREATED && (seconds as number) <= LATEST_CREATED;
}

/**
 * `2026-12-01` for a day number; a year past 9999 or before 0000 as `toISOString` writes it (`+010000-01-01`).
 * Computed by hand rather than through `Date`, which ends at the year 275760: a database written before
 * `created` was bounded may hold a completion dated anywhere up to 2^53 seconds, and its day must not make every
 * usage summary of its project fail (Howard Hinnant's days-to-civil algorithm, exact in doubles at these sizes).
 */
export function formatUtcDay(day: number): string {
  const shifted = day + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const date = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  return `${yearText}-${String(month).padStart(2, '0')}-${String(date).padStart(2, '0')}`;
}

/** True when a `created_after` / `created_before` bound falls on a UTC day boundary (or is absent). */
export function isDayBoundary(seconds: number | undefined): boolean {
  return seconds === undefined || seconds % SECONDS_PER_DAY === 0;
}
