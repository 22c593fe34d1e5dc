// Turning API objects into short human text: times, token counts, previews.

import { plainText } from './plain-text.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const integer = new Intl.NumberFormat();

export function formatInteger(n) {
  return typeof n === 'number' && Number.isFinite(n) ? integer.format(n) : '—';
}

/** "1 completion", "2 completions", "1,024 tokens": a count with its noun (every one here takes an s). */
export function plural(n, noun) {
  return `${formatInteger(n)} ${noun}${n === 1 ? '' : 's'}`;
}

export function localTime(unixSeconds) {
  return dateTime.format(new Date(unixSeconds * 1000));
}

const shortThisYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const shortOtherYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** "Dec 5, 1:52 AM", or "Dec 5, 2025" in another year: a compact line's time, in the width of a column. */
export function shortTime(unixSeconds, nowMs = Date.now()) {
  const date = new Date(unixSeconds * 1000);
  return (date.getFullYear() === new Date(nowMs).getFullYear() ? shortThisYear : shortOtherYear).format(date);
}

const UNITS = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['week', 7 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/**
 * Less than this ahead of the browser's clock is "now": `created` is the provider's clock, and a browser a second or
 * two behind it said "in 2 seconds" of the completion just stored, at the top of the list after "Refresh".
 */
const CLOCK_SKEW_SECONDS = 60;

/** "3 minutes ago", "yesterday". */
export function relativeTime(unixSeconds, nowMs = Date.now()) {
  const ahead = unixSeconds - nowMs / 1000;
  const delta = ahead > 0 && ahead < CLOCK_SKEW_SECONDS ? 0 : ahead;
  for (const [unit, seconds] of UNITS) {
    if (Math.abs(delta) >= seconds || unit === 'second') return relative.format(Math.round(delta / seconds), unit);
  }
  return '';
}

/** A `<time>`-friendly ISO string. */
export function isoTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString();
}

/** `datetime-local` field value (local time, to the second) for Unix seconds, and back. */
export function toLocalInput(unixSeconds) {
  if (unixSeconds === undefined || unixSeconds === null || unixSeconds === '') return '';
  const d = new Date(Number(unixSeconds) * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Whether Unix seconds make a time a `datetime-local` field can hold: a Date (to the year 275760) from the year 1. */
export function isShowableTime(unixSeconds) {
  const d = new Date(Number(unixSeconds) * 1000);
  return Number.isFinite(d.getTime()) && d.getFullYear() >= 1;
}

export function fromLocalInput(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(Math.floor(ms / 1000)) : undefined;
}

/** How a preview names a part that is not text: in words for the kinds OpenAI has, by its type otherwise. */
const PART_NAMES = { image_url: 'image', input_audio: 'audio', file: 'file', refusal: 'refusal' };

/**
 * The text of a message's content: a string, or the text parts of an array, other parts named (`[image]`) unless
 * `nameOthers` is false, when only the text parts are joined, as the API's own `content` of an input message is.
 */
export function contentText(content, nameOthers = true) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part) => nameOthers || part?.type === 'text')
    .map((part) => {
      if (part?.type === 'text') return String(part.text ?? '');
      const type = String(part?.type ?? 'part');
      return `[${Object.hasOwn(PART_NAMES, type) ? PART_NAMES[type] : type}]`;
    })
    .join('\n');
}

const GRAPHEMES = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;

/**
 * Where the character `at` falls in begins, as a reader counts characters (a letter with its accents, an emoji with
 * its joiners and skin tone, a flag): a cut there splits none. A cut between a letter and its combining accent drew
 * the letter bare and the accent alone on the next text (on a dotted circle); between the halves of a UTF-16 pair, "�".
 * Only the characters around `at` are read: the text may be a 1 MB message.
 */
function characterStart(text, at) {
  if (at <= 0 || at >= text.length) return at;
  if (!GRAPHEMES) return /[\udc00-\udfff]/.test(text[at]) ? at - 1 : at;
  const from = Math.max(0, at - 64);
  return from + GRAPHEMES.segment(text.slice(from, at + 64)).containing(at - from).index;
}

/** The first `length` UTF-16 units of `text`, fewer when the cut would fall inside a character (`characterStart`). */
export function cutText(text, length) {
  if (length >= text.length) return text;
  return text.slice(0, characterStart(text, length));
}

/** The local time to the second, for names (an export's file): `2026-12-04-161605`. */
export function localStamp(date = new Date()) {
  const two = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}-${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
}

/** How far back a cut looks for a space to fall on. */
const BREAK_LOOKBACK = 1000;

/**
 * The text cut to at most `length` units at the last white space before it (within the last thousand characters):
 * a word, an address or a markdown link is never split. Read as markdown, the head of a cut address would be a live
 * link to another place (`https://bank.example.com.attacker.example` cut to `https://bank.example.com`). Text with no
 * space near the cut (a megabyte of base64) is cut there, between characters.
 */
export function cutAtBreak(text, length) {
  const cut = cutText(text, length);
  // Whole, or cut just before a space: no word is split.
  if (cut.length >= text.length || /\s/.test(text[cut.length])) return cut;
  const from = Math.max(0, cut.length - BREAK_LOOKBACK);
  const tail = cut.slice(from);
  const space = tail.search(/\s+\S*$/);
  return space === -1 || from + space === 0 ? cut : cut.slice(0, from + space);
}

/**
 * How far into a text a preview looks for the search's first match; how far in a match still shows on a phone's
 * line (one further in is brought to the line's start); characters kept before it then.
 */
const MATCH_REACH = 20_000;
const MATCH_IN_SIGHT = 24;
const BEFORE_MATCH = 16;

/**
 * Where a preview starts: a little before the search's first match (search-words.js's matcher), at a word's start,
 * when the match is further in than a preview's first words, so one line shows why the search found it; else 0.
 */
function firstMatchStart(text, matcher) {
  const first = matcher?.ranges(text.length > MATCH_REACH ? cutText(text, MATCH_REACH) : text)[0];
  if (!first || first[0] <= MATCH_IN_SIGHT) return 0;
  const start = first[0] - BEFORE_MATCH;
  const space = text.slice(start, first[0]).search(/\s/);
  return space !== -1 ? start + space + 1 : characterStart(text, start);
}

/**
 * One line of text for a preview, after "…" when it starts further in; the cut is made before any layout sees the
 * whole (a 1 MB message). `markdown`: a message's prose, shown without its syntax (plain-text.js), which is taken
 * out of the cut part only, so it may make the line shorter than `max`: "…" then still says the text goes on.
 */
export function previewText(fullText, max = 240, matcher = null, { markdown = false } = {}) {
  const start = firstMatchStart(fullText, matcher);
  const rest = start ? fullText.slice(start) : fullText;
  const head = rest.length > max * 4 ? cutText(rest, max * 4) : rest;
  const line = `${start ? '…' : ''}${(markdown ? plainText(head) : head).replace(/\s+/g, ' ').trim()}`;
  if (line.length > max) return `${cutText(line, max - 1)}…`;
  return head.length < rest.length ? `${line}…` : line;
}

/** What a stored input message said, for a preview. */
export function messagePreview(message, matcher = null) {
  if (!message) return '';
  const parts = message.content_parts ?? message.content;
  const text = contentText(parts);
  if (text) return previewText(text, undefined, matcher, { markdown: true });
  if (message.tool_calls?.length) return previewText(toolCallsSummary(message.tool_calls));
  return '';
}

export function toolCallsSummary(toolCalls) {
  return toolCalls
    .map((call) => `${call?.function?.name ?? call?.type ?? 'tool'}(${previewText(String(call?.function?.arguments ?? ''), 60)})`)
    .join(', ');
}

/** The reply of a completion's first choice, for a preview. */
export function replyPreview(completion, matcher = null) {
  const message = completion.choices?.[0]?.message;
  if (!message) return '';
  if (message.refusal) return `Refusal: ${previewText(String(message.refusal), undefined, matcher)}`;
  const text = contentText(message.content);
  if (text) return previewText(text, undefined, matcher, { markdown: true });
  if (message.tool_calls?.length) return `→ ${previewText(toolCallsSummary(message.tool_calls))}`;
  return '';
}

export function finishReasons(completion) {
  const reasons = [...new Set((completion.choices ?? []).map((c) => c.finish_reason ?? 'none'))];
  return reasons.join(', ');
}

/** Finish reasons that say a reply is not whole, as a compact line says them: what someone hunting bad answers looks for. */
const CUT_REASONS = { length: 'cut off (length)', content_filter: 'filtered (content_filter)' };

/** How the choices' replies were cut short, each way once ("cut off (length)"): none for a reply that ended by itself. */
export function cutReasons(completion) {
  return [...new Set((completion.choices ?? []).map((c) => CUT_REASONS[c.finish_reason]).filter(Boolean))];
}

/** Pretty JSON when `text` is JSON (tool arguments), else the text as it came. */
export function prettyJsonText(text) {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  try {
    JSON.parse(text);
  } catch {
    return text;
  }
  return indentJson(text);
}

const JSON_SPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * A layout this much longer than the text is given up for the text as it is: indenting grows with the depth, so a
 * string of brackets (a tool's result, arguments: the service limits a body's depth, not its strings') grows
 * quadratically: 20,000 levels were 200 MB, 30,000 past the longest string a browser makes (the view threw).
 */
const MOST_GROWTH = 16;
const GROWTH_ALLOWANCE = 100_000;

/**
 * Valid JSON text laid out as `JSON.stringify(value, null, 2)` would, but with every number as it was
 * written: a parse and stringify rounds an id past 2^53 (`12345678901234567890` shown as
 * `12345678901234567000`) and rewrites `1.50` as `1.5`, so the arguments on screen would not be what
 * the model sent. Strings are written as JSON.stringify writes them (escapes like \u00e9 read as é).
 */
function indentJson(text) {
  let out = '';
  let depth = 0;
  const newline = () => `\n${'  '.repeat(depth)}`;
  const longest = text.length * MOST_GROWTH + GROWTH_ALLOWANCE;
  for (let i = 0; i < text.length; i++) {
    if (out.length > longest) return text;
    const c = text[i];
    if (c === '"') {
      let end = text.indexOf('"', i + 1);
      while (isEscaped(text, end)) end = text.indexOf('"', end + 1);
      out += JSON.stringify(JSON.parse(text.slice(i, end + 1)));
      i = end;
    } else if (c === '{' || c === '[') {
      let next = i + 1;
      while (JSON_SPACE.has(text[next])) next++;
      if (text[next] === '}' || text[next] === ']') {
        out += c + text[next];
        i = next;
      } else {
        depth++;
        out += c + newline();
      }
    } else if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
    } else if (c === ',') {
      out += `,${newline()}`;
    } else if (c === ':') {
      out += ': ';
    } else if (!JSON_SPACE.has(c)) {
      out += c;
    }
  }
  return out;
}

/** Whether the quote at `at` follows an odd number of backslashes. */
function isEscaped(text, at) {
  let backslashes = 0;
  for (let i = at - 1; text[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** Metadata limits of the API (SPEC: at most 16 pairs, keys ≤ 64 and values ≤ 512 characters). */
export const METADATA_LIMITS = { pairs: 16, keyLength: 64, valueLength: 512 };

/** Length in code points, as the API counts. */
export function characterCount(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}
