// Markdown as models write it, drawn with elements and text nodes: headings, paragraphs, lists, quotes,
// tables, rules and fenced code; code spans, emphasis, strike-through and links. Nothing passes through an
// HTML parser, so a tag in a message stays the characters it is. Links go only to http(s) and mailto
// addresses; an image is a link to its address, never loaded: a reply steered by injected text can name an
// image whose address carries the conversation off to someone else's server.

import { h } from './dom.js';

/** Whether messages are drawn as markdown or shown as the characters stored; kept for the next visit. */
const SETTING = 'stored-completions.markdown';

export function markdownShown() {
  try {
    return localStorage.getItem(SETTING) !== 'off';
  } catch {
    return true;
  }
}

export function showMarkdown(shown) {
  try {
    localStorage.setItem(SETTING, shown ? 'on' : 'off');
  } catch {
    // Storage refused (a private window's quota): the choice holds until the page is left.
  }
}

const BLANK = /^[ \t]*$/;
const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|[ \t]*$)/;
const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;
const PUNCTUATION = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;
/** A paragraph longer than this is shown as its characters: emphasis and links are not worth a long stall. */
const INLINE_LIMIT = 100_000;
/** How far a link's text and address may reach: an unclosed "[" costs a bounded look ahead, not the rest of the text. */
const LABEL_LIMIT = 1000;
const URL_LIMIT = 4096;
const MAX_NESTING = 12;

/**
 * `h` with `dir="auto"` (each block takes the direction of its first letter) set once the children are in:
 * Chromium works an auto direction out again on every child added, which made a long paragraph quadratic.
 */
function directed(tag, attrs, ...children) {
  const element = h(tag, attrs, ...children);
  element.setAttribute('dir', 'auto');
  return element;
}

/** The nodes of `text` read as markdown. */
export function markdownNodes(text) {
  return blocks(String(text).split(/\r?\n/));
}

function indentOf(line) {
  let width = 0;
  for (const char of line) {
    if (char === ' ') width += 1;
    else if (char === '\t') width += 4 - (width % 4);
    else break;
  }
  return width;
}

/** `line` with `width` columns of its indentation taken off (tabs counted to the next multiple of 4). */
function dedent(line, width) {
  let column = 0;
  let at = 0;
  while (at < line.length && column < width && (line[at] === ' ' || line[at] === '\t')) {
    column += line[at] === '\t' ? 4 - (column % 4) : 1;
    at += 1;
  }
  return ' '.repeat(Math.max(0, column - width)) + line.slice(at);
}

function tableCells(line) {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

function startsTable(lines, at) {
  const header = lines[at];
  const delimiter = lines[at + 1];
  if (!header.includes('|') || delimiter === undefined || !TABLE_DELIMITER.test(delimiter)) return false;
  return tableCells(header).length === tableCells(delimiter).length;
}

function opensFence(line) {
  const match = FENCE_OPEN.exec(line);
  // A backtick fence's info string has no backtick: "```x```" on one line is a code span.
  return match && !(match[2][0] === '`' && match[3].includes('`')) ? match : null;
}

/** A line that ends a paragraph without a blank line before it. */
function interrupts(lines, at) {
  const line = lines[at];
  if (opensFence(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const item = ITEM.exec(line);
  // A list breaks into a paragraph only with something in its first item, and a numbered one only from 1.
  if (item && item[4]?.trim() && (!/\d/.test(item[2]) || Number.parseInt(item[2], 10) === 1)) return true;
  return startsTable(lines, at);
}

function blocks(lines, depth = 0) {
  // Lists and quotes nested deeper than anyone writes are shown as their characters: each level reads its
  // lines again, and a browser lays out a few hundred levels slowly.
  if (depth > MAX_NESTING) return [directed('p', null, lines.join('\n'))];
  const nodes = [];
  let at = 0;
  while (at < lines.length) {
    const line = lines[at];
    let match;
    if (BLANK.test(line)) {
      at += 1;
    } else if (indentOf(line) >= 4) {
      at = indentedCode(lines, at, nodes);
    } else if ((match = opensFence(line))) {
      at = fencedCode(lines, at, match, nodes);
    } else if ((match = HEADING.exec(line))) {
      nodes.push(heading(match[1].length, match[2] ?? ''));
      at += 1;
    } else if (RULE.test(line)) {
      nodes.push(h('hr'));
      at += 1;
    } else if (QUOTE.test(line)) {
      const quoted = [];
      while (at < lines.length && (match = QUOTE.exec(lines[at]))) {
        quoted.push(match[1]);
        at += 1;
      }
      nodes.push(directed('blockquote', null, blocks(quoted, depth + 1)));
    } else if (ITEM.test(line)) {
      at = list(lines, at, nodes, depth);
    } else if (startsTable(lines, at)) {
      at = table(lines, at, nodes);
    } else {
      at = paragraph(lines, at, nodes);
    }
  }
  return nodes;
}

function fencedCode(lines, at, [, indent, marker, info], nodes) {
  const code = [];
  let next = at + 1;
  // A fence left open (or cut by "Show more") runs to the end, as in markdown.
  for (; next < lines.length; next++) {
    const close = FENCE_CLOSE.exec(lines[next]);
    if (close && close[1][0] === marker[0] && close[1].length >= marker.length) {
      next += 1;
      break;
    }
    code.push(dedent(lines[next], indent.length));
  }
  nodes.push(codeBlock(code.join('\n'), info.trim().split(/\s/)[0]));
  return next;
}

/** Lines indented four spaces or more after a blank line: code pasted into a message, shown as written. */
function indentedCode(lines, at, nodes) {
  let next = at;
  let end = at;
  for (; next < lines.length && (BLANK.test(lines[next]) || indentOf(lines[next]) >= 4); next++) {
    if (!BLANK.test(lines[next])) end = next + 1;
  }
  nodes.push(codeBlock(lines.slice(at, end).map((line) => dedent(line, 4)).join('\n'), ''));
  return end;
}

/** A model's code block: monospaced, indentation and long lines kept (the block scrolls sideways), the language named. */
export function codeBlock(code, language) {
  return h('div', { class: 'fenced' },
    language ? h('span', { class: 'part-label' }, language) : null,
    h('pre', { class: 'fenced-code' }, h('code', null, code)),
  );
}

/** A heading in a message, a level below the page's own (the completion is h1, its sections h2). */
function heading(level, text) {
  return directed('p', { class: `md-heading md-h${level}`, role: 'heading', 'aria-level': String(Math.min(6, level + 2)) }, inline(text));
}

function paragraph(lines, at, nodes) {
  const text = [lines[at].trimStart()];
  let next = at + 1;
  for (; next < lines.length && !BLANK.test(lines[next]); next++) {
    const underline = SETEXT.exec(lines[next]);
    if (underline) {
      nodes.push(heading(underline[1][0] === '=' ? 1 : 2, text.join('\n')));
      return next + 1;
    }
    if (interrupts(lines, next)) break;
    // Kept as written, indentation too: a pasted poem or snippet keeps its shape (the block wraps as written).
    text.push(lines[next]);
  }
  nodes.push(directed('p', null, inline(text.join('\n'))));
  return next;
}

function list(lines, at, nodes, depth) {
  const first = ITEM.exec(lines[at]);
  const ordered = /\d/.test(first[2]);
  const delimiter = first[2].slice(-1);
  const items = [];
  let loose = false;
  let next = at;
  while (next < lines.length) {
    const item = ITEM.exec(lines[next]);
    if (!item || /\d/.test(item[2]) !== ordered || item[2].slice(-1) !== delimiter) break;
    // The item's text starts after its marker and one to four spaces; lines indented as far belong to it.
    const spaces = item[4] ? indentOf(item[3]) : 0;
    const gap = spaces >= 1 && spaces <= 4 ? spaces : 1;
    const width = item[1].length + item[2].length + gap;
    const itemLines = [item[4] ?? ''];
    next += 1;
    while (next < lines.length) {
      const line = lines[next];
      if (BLANK.test(line)) {
        let after = next;
        while (after < lines.length && BLANK.test(lines[after])) after += 1;
        if (after >= lines.length || indentOf(lines[after]) < width) break;
        for (; next < after; next++) itemLines.push('');
        loose = true;
      } else if (indentOf(line) >= width) {
        itemLines.push(dedent(line, width));
        next += 1;
      } else if (!ITEM.test(line) && !interrupts(lines, next) && !BLANK.test(itemLines.at(-1))) {
        // A paragraph's line that goes on without its indentation still belongs to the item.
        itemLines.push(line.trimStart());
        next += 1;
      } else {
        break;
      }
    }
    items.push(directed('li', null, blocks(itemLines, depth + 1)));
    let after = next;
    while (after < lines.length && BLANK.test(lines[after])) after += 1;
    const following = ITEM.exec(lines[after] ?? '');
    if (after === next || !following || /\d/.test(following[2]) !== ordered || following[2].slice(-1) !== delimiter) continue;
    loose = true;
    next = after;
  }
  const start = ordered ? Number.parseInt(first[2], 10) : 1;
  nodes.push(h(ordered ? 'ol' : 'ul', { class: loose ? 'loose' : null, start: start !== 1 ? String(start) : null }, items));
  return next;
}

function table(lines, at, nodes) {
  const header = tableCells(lines[at]);
  const alignments = tableCells(lines[at + 1]).map((cell) => {
    if (cell.startsWith(':') && cell.endsWith(':')) return 'align-center';
    if (cell.endsWith(':')) return 'align-right';
    return cell.startsWith(':') ? 'align-left' : null;
  });
  const rows = [];
  let next = at + 2;
  for (; next < lines.length && !BLANK.test(lines[next]) && !interrupts(lines, next); next++) rows.push(tableCells(lines[next]));
  const cell = (tag, text, column) => directed(tag, { class: alignments[column] }, inline(text ?? ''));
  nodes.push(h('div', { class: 'md-table' },
    h('table', null,
      h('thead', null, h('tr', null, header.map((text, column) => cell('th', text, column)))),
      rows.length ? h('tbody', null, rows.map((row) => h('tr', null, header.map((_, column) => cell('td', row[column], column))))) : null,
    ),
  ));
  return next;
}

function runLength(text, at, char) {
  let end = at;
  while (text[end] === char) end += 1;
  return end - at;
}

function isSpace(char) {
  return char === undefined || /\s/.test(char);
}

/** Where the next run of exactly `length` backticks starts at or after `from`, or -1. */
function backtickRun(text, from, length) {
  for (let at = text.indexOf('`', from); at !== -1; at = text.indexOf('`', at)) {
    const run = runLength(text, at, '`');
    if (run === length) return at;
    at += run;
  }
  return -1;
}

/**
 * Where a run of `length` `char`s can close emphasis, at or after `from`, or -1: the run is exactly that long
 * and follows a non-space (an underscore also not followed by a letter, so snake_case stays as written).
 */
function emphasisCloser(text, from, char, length) {
  for (let at = text.indexOf(char, from); at !== -1; at = text.indexOf(char, at)) {
    const run = runLength(text, at, char);
    if (run === length && !isSpace(text[at - 1]) && !(char === '_' && WORD.test(text[at + run] ?? ''))) return at;
    at += run;
  }
  return -1;
}

/** A link's address and what follows it up to its ")" (an optional title is read and dropped), or null. */
function linkTarget(text, from) {
  let at = from;
  while (text[at] === ' ') at += 1;
  let url;
  if (text[at] === '<') {
    const end = text.indexOf('>', at);
    if (end === -1 || end - at > URL_LIMIT) return null;
    url = text.slice(at + 1, end);
    at = end + 1;
  } else {
    const start = at;
    let depth = 0;
    for (; at < text.length && at - start <= URL_LIMIT && !isSpace(text[at]); at++) {
      if (text[at] === '(') depth += 1;
      else if (text[at] === ')' && depth-- === 0) break;
    }
    url = text.slice(start, at);
  }
  while (text[at] === ' ') at += 1;
  const quote = { '"': '"', "'": "'", '(': ')' }[text[at]];
  if (quote) {
    const end = text.indexOf(quote, at + 1);
    if (end === -1 || end - at > LABEL_LIMIT) return null;
    at = end + 1;
    while (text[at] === ' ') at += 1;
  }
  return text[at] === ')' && !/[\s<>]/.test(url) ? { url, end: at + 1 } : null;
}

function link(url, children) {
  return h('a', { href: url, title: url, target: '_blank', rel: 'noopener noreferrer nofollow' }, children);
}

/** The inline nodes of a paragraph's text: strings (text nodes) and code, em, strong, del and a elements. */
function inline(text) {
  if (text.length > INLINE_LIMIT) return [text];
  const nodes = [];
  let plain = '';
  // A delimiter with no closer after some point has none after any later point either: each is looked for once.
  const unclosed = new Set();
  const flush = () => {
    if (plain) nodes.push(plain);
    plain = '';
  };
  let at = 0;
  while (at < text.length) {
    const char = text[at];
    if (char === '\\' && PUNCTUATION.test(text[at + 1] ?? '')) {
      plain += text[at + 1];
      at += 2;
      continue;
    }
    if (char === '`') {
      const run = runLength(text, at, '`');
      const close = unclosed.has(`\`${run}`) ? -1 : backtickRun(text, at + run, run);
      if (close === -1) {
        unclosed.add(`\`${run}`);
        plain += text.slice(at, at + run);
        at += run;
        continue;
      }
      let code = text.slice(at + run, close).replace(/\n/g, ' ');
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim()) code = code.slice(1, -1);
      flush();
      nodes.push(h('code', null, code));
      at = close + run;
      continue;
    }
    if (char === '*' || char === '_' || char === '~') {
      const run = runLength(text, at, char);
      const opens = (char === '~' ? run === 2 : run <= 3)
        && !isSpace(text[at + run])
        && !(char === '_' && WORD.test(text[at - 1] ?? ''));
      const key = `${char}${run}`;
      const close = opens && !unclosed.has(key) ? emphasisCloser(text, at + run + 1, char, run) : -1;
      if (close === -1) {
        if (opens) unclosed.add(key);
        plain += text.slice(at, at + run);
        at += run;
        continue;
      }
      const inner = inline(text.slice(at + run, close));
      flush();
      if (char === '~') nodes.push(h('del', null, inner));
      else if (run === 1) nodes.push(h('em', null, inner));
      else if (run === 2) nodes.push(h('strong', null, inner));
      else nodes.push(h('strong', null, h('em', null, inner)));
      at = close + run;
      continue;
    }
    if (char === '[' || (char === '!' && text[at + 1] === '[')) {
      const image = char === '!';
      const start = at + (image ? 2 : 1);
      const end = text.slice(start, start + LABEL_LIMIT).indexOf(']');
      const target = end !== -1 && text[start + end + 1] === '(' ? linkTarget(text, start + end + 2) : null;
      if (target && SAFE_LINK.test(target.url)) {
        const label = text.slice(start, start + end);
        flush();
        nodes.push(image ? link(target.url, `Image: ${label || target.url}`) : link(target.url, label ? inline(label) : target.url));
        at = target.end;
        continue;
      }
      plain += char;
      at += 1;
      continue;
    }
    if (char === '<') {
      const auto = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(text.slice(at, at + URL_LIMIT));
      if (auto) {
        flush();
        nodes.push(link(auto[1], auto[1]));
        at += auto[0].length;
        continue;
      }
    }
    plain += char;
    at += 1;
  }
  flush();
  return nodes;
}
