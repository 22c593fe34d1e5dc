// Markdown as models write it, drawn with elements and text nodes: headings, paragraphs, lists, quotes,
// tables, rules and fenced code; code spans, emphasis, strike-through and links. Nothing passes through an
// HTML parser, so a tag in a message stays the characters it is. Links go only to http(s) and mailto
// addresses; an image is a link to its address, never loaded: a reply steered by injected text can name an
// image whose address carries the conversation off to someone else's server.

import { copyButton, h, scrollRegion } from './dom.js';
import { readSetting, writeSetting } from './preferences.js';

/** Whether messages are drawn as markdown or shown as the characters stored; kept for the next visit. */
export function markdownShown() {
  return readSetting('markdown', 'on') !== 'off';
}

export function showMarkdown(shown) {
  writeSetting('markdown', shown ? 'on' : 'off');
}

const BLANK = /^[ \t]*$/;
const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/s;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const HEADING_START = /^ {0,3}(#{1,6})(?=[ \t]|$)/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/s;
// `s`: a U+2028 in a line is text of the line, not its end (without it, the rest of an item's line was lost).
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|[ \t]*$)/s;
const DELIMITER_CELL = /^:?-+:?$/;
const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;
const AUTOLINK = /<((?:https?:\/\/|mailto:)[^\s<>]{1,4096})>/iy;
/** A bare address in prose, linked as GitHub does (its trailing punctuation trimmed below). */
const BARE_URL = /https?:\/\/[^\s<>"]{1,4096}/iy;
const RIGHT_TO_LEFT = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}]/u;
const LETTER = /\p{L}/u;
const PUNCTUATION = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;
/** A paragraph longer than this is shown as its characters: emphasis and links are not worth a long stall. */
const INLINE_LIMIT = 100_000;
/** How far a link's text and address may reach: an unclosed "[" costs a bounded look ahead, not the rest of the text. */
const LABEL_LIMIT = 1000;
const URL_LIMIT = 4096;
const MAX_NESTING = 12;
/**
 * Block elements (paragraphs, items, lists, quotes, cells, ...) one text may make; what follows is shown as its
 * characters. Each is linear to make, but a browser lays out 80,000 nested items or 11,000 tables in seconds.
 */
const BLOCK_BUDGET = 5000;
let blocksLeft = BLOCK_BUDGET;
/** A table wider than this is shown as its characters: no model writes one, and a browser lays it out slowly. */
const MAX_COLUMNS = 64;
/** A row longer than this is not read as a table's delimiter row. */
const DELIMITER_LIMIT = 10_000;

/** The direction of a text: that of its first letter (Hebrew, Arabic and the like read right to left). */
export function directionOf(text) {
  const letter = LETTER.exec(text);
  return letter && RIGHT_TO_LEFT.test(letter[0]) ? 'rtl' : 'ltr';
}

/**
 * `h` with the direction of the element's own text set, once its children are in. Set, not `dir="auto"`:
 * an auto direction skips descendants that have a `dir` of their own, so a list whose items' paragraphs
 * each had one laid out left to right around Hebrew items; and Chromium works an auto direction out again
 * on every child added, which made a long paragraph quadratic.
 */
function directed(tag, attrs, ...children) {
  blocksLeft -= 1;
  const element = h(tag, attrs, ...children);
  element.setAttribute('dir', directionOf(element.textContent));
  return element;
}

/** The nodes of `text` read as markdown. */
export function markdownNodes(text) {
  blocksLeft = BLOCK_BUDGET;
  // A lone CR ends a line too, as in markdown.
  return blocks(String(text).split(/\r\n|\r|\n/));
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

/** A table row's text without its outer pipes. */
function rowText(line) {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  return row;
}

/**
 * A table row's cells: split at each `|` that is not escaped and not inside a code span, since models write
 * `a || b` in a table's code without escaping it (GitHub splits there, and the cell's text was lost).
 */
function tableCells(line) {
  const row = rowText(line);
  const cells = [];
  const unclosed = new Set();
  let cell = '';
  for (let at = 0; at < row.length; at++) {
    const char = row[at];
    if (char === '\\' && row[at + 1] === '|') {
      cell += '|';
      at += 1;
    } else if (char === '`') {
      const run = runLength(row, at, '`');
      const close = unclosed.has(run) ? -1 : backtickRun(row, at + run, run);
      if (close === -1) unclosed.add(run);
      const end = close === -1 ? at + run : close + run;
      // In a table a code span's "\|" is a pipe too, as GitHub reads it.
      cell += row.slice(at, end).replace(/\\\|/g, '|');
      at = end - 1;
    } else if (char === '|') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += char;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/** A delimiter row's alignments (`|:--|--:|`), one a column, or null when `line` is none. */
function delimiterRow(line) {
  if (line === undefined || line.length > DELIMITER_LIMIT || indentOf(line) > 3 || !/[-|]/.test(line)) return null;
  const cells = rowText(line).split('|').map((cell) => cell.trim());
  if (!cells.every((cell) => DELIMITER_CELL.test(cell))) return null;
  return cells.map((cell) => {
    if (cell.startsWith(':') && cell.endsWith(':')) return 'align-center';
    if (cell.endsWith(':')) return 'align-right';
    return cell.startsWith(':') ? 'align-left' : null;
  });
}

function startsTable(lines, at) {
  if (!lines[at].includes('|')) return false;
  const alignments = delimiterRow(lines[at + 1]);
  return alignments !== null && alignments.length <= MAX_COLUMNS && tableCells(lines[at]).length === alignments.length;
}

/** An ATX heading (`#` to `######`, then a space or nothing): its level and text, a closing run of `#` dropped. */
function atxHeading(line) {
  const start = HEADING_START.exec(line);
  if (!start) return null;
  let text = line.slice(start[0].length).trim();
  let end = text.length;
  while (end > 0 && text[end - 1] === '#') end -= 1;
  if (end === 0) text = '';
  else if (end < text.length && (text[end - 1] === ' ' || text[end - 1] === '\t')) text = text.slice(0, end).trimEnd();
  return { level: start[1].length, text };
}

function opensFence(line) {
  const match = FENCE_OPEN.exec(line);
  // A backtick fence's info string has no backtick: "```x```" on one line is a code span.
  return match && !(match[2][0] === '`' && match[3].includes('`')) ? match : null;
}

/** A line that ends a paragraph without a blank line before it. */
function interrupts(lines, at) {
  const line = lines[at];
  if (opensFence(line) || HEADING_START.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
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
    if (blocksLeft <= 0) {
      nodes.push(directed('p', null, lines.slice(at).join('\n')));
      break;
    }
    const line = lines[at];
    let match;
    // Every block counts (a fence, a rule), not only those `directed` makes.
    if (!BLANK.test(line)) blocksLeft -= 1;
    if (BLANK.test(line)) {
      at += 1;
    } else if (indentOf(line) >= 4) {
      at = indentedCode(lines, at, nodes);
    } else if ((match = opensFence(line))) {
      at = fencedCode(lines, at, match, nodes);
    } else if ((match = atxHeading(line))) {
      nodes.push(heading(match.level, match.text));
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

/**
 * A model's code block: monospaced, indentation and long lines kept (the block scrolls sideways), the language named.
 * Its "Copy" copies the code exactly (no language line, no closing newline), named by its language like the block;
 * after the code, so a reader hears the code, then the button that copies it.
 */
export function codeBlock(code, language) {
  const copy = copyButton('Copy', () => code);
  copy.classList.add('copy-code');
  copy.setAttribute('aria-label', language ? `Copy ${language} code` : 'Copy code');
  return h('div', { class: 'fenced' },
    language ? h('span', { class: 'part-label' }, language) : null,
    scrolled(h('pre', { class: 'fenced-code' }, h('code', null, code)), language ? `${language} code` : 'Code'),
    copy,
  );
}

/**
 * Names the "Copy" of each code block in `text` (a message drawn) by its place there, where it has several: a screen
 * reader's list of buttons read "Copy python code" once a block, none telling which ("Copy code block 2 of 3
 * (python)"). One block alone keeps its name. Run again after "Show more", which may add blocks.
 */
export function nameCodeCopies(text) {
  const copies = [...text.querySelectorAll('button.copy-code')];
  if (copies.length < 2) return;
  copies.forEach((copy, index) => {
    // The language the block is drawn under (none for an indented block, or a fence without one).
    const language = copy.parentElement.querySelector(':scope > .part-label')?.textContent;
    copy.setAttribute('aria-label', `Copy code block ${index + 1} of ${copies.length}${language ? ` (${language})` : ''}`);
  });
}

/** A block that scrolls sideways (a long line of code, a wide table): Tab reaches it while it does (dom.js's scrollRegion). */
function scrolled(block, label) {
  scrollRegion(block, label);
  return block;
}

/** A heading in a message, a level below the page's own (the completion is h1, its sections h2, each message h3). */
function heading(level, text) {
  return directed('p', { class: `md-heading md-h${level}`, role: 'heading', 'aria-level': String(Math.min(6, level + 3)) }, inline(text));
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
  // Past the budget the list stops, and blocks() shows the rest as its characters.
  while (next < lines.length && blocksLeft > 0) {
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
  nodes.push(directed(ordered ? 'ol' : 'ul', { class: loose ? 'loose' : null, start: start !== 1 ? String(start) : null }, items));
  return next;
}

function table(lines, at, nodes) {
  const header = tableCells(lines[at]);
  const alignments = delimiterRow(lines[at + 1]);
  const rows = [];
  let next = at + 2;
  for (; next < lines.length && blocksLeft > 0 && !BLANK.test(lines[next]) && !interrupts(lines, next); next++) {
    // A row longer than its header keeps its extra cells' text in its last cell, with their pipes: a browser
    // lays out a row thousands of cells wider than its header in minutes.
    const cells = tableCells(lines[next]);
    if (cells.length > header.length) cells.splice(header.length - 1, Infinity, cells.slice(header.length - 1).join(' | '));
    rows.push(cells);
    // Charged as the rows are read, so the budget stops them (the cells are charged again as they are drawn).
    blocksLeft -= cells.length + 1;
  }
  // A short row draws the cells it has: padded to the header's width, a narrow text under a wide header cost
  // cells in the square of its length.
  const cell = (tag, text, column) => directed(tag, { class: alignments[column] ?? null }, inline(text));
  nodes.push(scrolled(h('div', { class: 'md-table' },
    directed('table', null,
      h('thead', null, h('tr', null, header.map((text, column) => cell('th', text, column)))),
      rows.length ? h('tbody', null, rows.map((row) => h('tr', null, row.map((text, column) => cell('td', text, column))))) : null,
    ),
  ), 'Table'));
  return next;
}

/** Whether the character at `at` is escaped: an odd number of backslashes before it. */
function isEscaped(text, at) {
  let backslashes = 0;
  while (text[at - 1 - backslashes] === '\\') backslashes += 1;
  return backslashes % 2 === 1;
}

function runLength(text, at, char) {
  let end = at;
  while (text[end] === char) end += 1;
  return end - at;
}

function isSpace(char) {
  if (char === undefined || char === ' ' || char === '\n' || char === '\t') return true;
  return char > '\x7f' ? /\s/.test(char) : char === '\r' || char === '\f' || char === '\v';
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
 * The code spans of a text, found once: `starts` ascending, `ends[i]` just after span i's closing run. A
 * run with no closing run of its length is text; a run of a length found unclosed is not looked for again.
 */
function codeSpans(text) {
  const starts = [];
  const ends = [];
  const unclosed = new Set();
  for (let at = text.indexOf('`'); at !== -1;) {
    const escaped = isEscaped(text, at);
    const run = runLength(text, at, '`');
    const close = escaped || unclosed.has(run) ? -1 : backtickRun(text, at + run, run);
    if (close === -1) {
      if (!escaped) unclosed.add(run);
      at = text.indexOf('`', at + (escaped ? 1 : run));
      continue;
    }
    starts.push(at);
    ends.push(close + run);
    at = text.indexOf('`', close + run);
  }
  return { starts, ends };
}

/** The end of the code span holding position `at`, or -1 (a binary search of the spans' starts). */
function spanAround(spans, at) {
  let low = 0;
  let high = spans.starts.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (spans.starts[middle] <= at) low = middle + 1;
    else high = middle - 1;
  }
  return high >= 0 && spans.ends[high] > at ? spans.ends[high] : -1;
}

/**
 * Where a run of `length` `char`s can close emphasis, at or after `from`, or -1: the run is exactly that long,
 * follows a non-space, is not inside a code span (`*glob \`src/*.js\`*`), and an underscore is not followed by
 * a letter (so snake_case stays as written).
 */
function emphasisCloser(text, from, char, length, spans) {
  for (let at = text.indexOf(char, from); at !== -1; at = text.indexOf(char, at)) {
    const spanEnd = spanAround(spans, at);
    if (spanEnd !== -1) {
      at = spanEnd;
      continue;
    }
    // `\*` is a star of the text, not a closing mark.
    if (isEscaped(text, at)) {
      at += 1;
      continue;
    }
    const run = runLength(text, at, char);
    if (run === length && !isSpace(text[at - 1]) && !(char === '_' && WORD.test(text[at + run] ?? ''))) return at;
    at += run;
  }
  return -1;
}

/** A link's address with markdown's backslash escapes taken out (`a\_b` is `a_b`). */
function unescaped(url) {
  return url.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/**
 * A link's address and what follows it up to its ")" (an optional title is read and dropped), or null. Every
 * character looked at is taken from `budget`: however many "[x](" a text holds, the look ahead stays linear.
 */
function linkTarget(text, from, budget) {
  let at = from;
  while (text[at] === ' ') at += 1;
  let url;
  if (text[at] === '<') {
    const end = text.slice(at, at + URL_LIMIT).indexOf('>');
    budget.left -= end === -1 ? URL_LIMIT : end;
    if (end === -1) return null;
    url = text.slice(at + 1, at + end);
    at += end + 1;
  } else {
    const start = at;
    let depth = 0;
    for (; at < text.length && at - start <= URL_LIMIT && !isSpace(text[at]); at++) {
      // `\)` is a parenthesis of the address, not its end.
      if (text[at] === '\\' && PUNCTUATION.test(text[at + 1] ?? '')) at += 1;
      else if (text[at] === '(') depth += 1;
      else if (text[at] === ')' && depth-- === 0) break;
    }
    budget.left -= at - start;
    url = text.slice(start, at);
  }
  while (text[at] === ' ') at += 1;
  const quote = { '"': '"', "'": "'", '(': ')' }[text[at]];
  if (quote) {
    const end = text.slice(at + 1, at + 1 + LABEL_LIMIT).indexOf(quote);
    budget.left -= end === -1 ? LABEL_LIMIT : end;
    if (end === -1) return null;
    at += end + 2;
    while (text[at] === ' ') at += 1;
  }
  return text[at] === ')' && !/[\s<>]/.test(url) ? { url: unescaped(url), end: at + 1 } : null;
}

function link(url, children) {
  return h('a', { href: url, title: url, target: '_blank', rel: 'noopener noreferrer nofollow' }, children);
}

/**
 * A link or an image at `at` (`[text](url)`, `![alt](url)`, `[![alt](img)](url)`, a badge): its node and where
 * it ends, or null. An image is a link to its address, never loaded. Only http(s) and mailto addresses link.
 */
function linkAt(text, at, budget) {
  if (budget.left <= 0) return null;
  const image = text[at] === '!';
  const start = at + (image ? 2 : 1);
  // A badge: the image inside the link's text is read first, its "]" not taken for the link's.
  const inner = !image && text[start] === '!' && text[start + 1] === '[' ? linkAt(text, start, budget) : null;
  let labelEnd = -1;
  if (inner) {
    if (text[inner.end] === ']') labelEnd = inner.end;
  } else {
    const found = text.slice(start, start + LABEL_LIMIT).indexOf(']');
    budget.left -= found === -1 ? Math.min(LABEL_LIMIT, text.length - start) : found;
    if (found !== -1) labelEnd = start + found;
  }
  if (labelEnd < start || text[labelEnd + 1] !== '(') return null;
  const target = linkTarget(text, labelEnd + 2, budget);
  if (!target || !SAFE_LINK.test(target.url)) return null;
  const label = text.slice(start, labelEnd);
  let children;
  if (image) children = `Image: ${label || target.url}`;
  else if (inner) children = inner.node.textContent;
  else children = label ? inline(label, { inLink: true }) : target.url;
  return { node: link(target.url, children), end: target.end };
}

/** A bare address at `at` (after no letter or digit), its trailing punctuation left out as GitHub does, or null. */
function bareUrlAt(text, at) {
  if (WORD.test(text[at - 1] ?? '')) return null;
  BARE_URL.lastIndex = at;
  const match = BARE_URL.exec(text);
  if (!match) return null;
  const found = match[0];
  // Parentheses counted once, then each one trimmed taken off the count: trimming a run of ")" stays linear.
  let opened = 0;
  let closed = 0;
  for (const char of found) {
    if (char === '(') opened += 1;
    else if (char === ')') closed += 1;
  }
  let end = found.length;
  for (;;) {
    const last = found[end - 1];
    if ('.,:;!?\'*_~'.includes(last)) end -= 1;
    else if (last === ')' && opened < closed) {
      end -= 1;
      closed -= 1;
    } else break;
  }
  const url = found.slice(0, end);
  return /^https?:\/\/[^/?#]/i.test(url) ? url : null;
}

/**
 * The inline nodes of a paragraph's text: strings (text nodes) and code, em, strong, del and a elements.
 * `inLink`: inside a link's text, where no other link may start.
 */
function inline(text, { inLink = false } = {}) {
  if (text.length > INLINE_LIMIT) return [text];
  const nodes = [];
  const spans = codeSpans(text);
  let span = 0;
  const budget = { left: 4 * text.length + 20_000 };
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
    if (char === '\\' && (PUNCTUATION.test(text[at + 1] ?? '') || text[at + 1] === '\n')) {
      // "\*" is a star; a backslash at a line's end is markdown's line break (the line breaks here anyway).
      plain += text[at + 1];
      at += 2;
      continue;
    }
    while (span < spans.starts.length && spans.starts[span] < at) span += 1;
    if (char === '`') {
      if (spans.starts[span] !== at) {
        const run = runLength(text, at, '`');
        plain += text.slice(at, at + run);
        at += run;
        continue;
      }
      const run = runLength(text, at, '`');
      const end = spans.ends[span];
      let code = text.slice(at + run, end - run).replace(/\n/g, ' ');
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim()) code = code.slice(1, -1);
      flush();
      nodes.push(h('code', null, code));
      at = end;
      continue;
    }
    if (char === '*' || char === '_' || char === '~') {
      const run = runLength(text, at, char);
      const opens = (char === '~' ? run === 2 : run <= 3)
        && !isSpace(text[at + run])
        && !(char === '_' && WORD.test(text[at - 1] ?? ''));
      const key = `${char}${run}`;
      const close = opens && !unclosed.has(key) ? emphasisCloser(text, at + run + 1, char, run, spans) : -1;
      if (close === -1) {
        if (opens) unclosed.add(key);
        plain += text.slice(at, at + run);
        at += run;
        continue;
      }
      const inner = inline(text.slice(at + run, close), { inLink });
      flush();
      if (char === '~') nodes.push(h('del', null, inner));
      else if (run === 1) nodes.push(h('em', null, inner));
      else if (run === 2) nodes.push(h('strong', null, inner));
      else nodes.push(h('strong', null, h('em', null, inner)));
      at = close + run;
      continue;
    }
    if (!inLink && (char === '[' || (char === '!' && text[at + 1] === '['))) {
      const found = linkAt(text, at, budget);
      if (found) {
        flush();
        nodes.push(found.node);
        at = found.end;
        continue;
      }
    }
    if (!inLink && char === '<') {
      AUTOLINK.lastIndex = at;
      const auto = AUTOLINK.exec(text);
      if (auto) {
        flush();
        nodes.push(link(auto[1], auto[1]));
        at += auto[0].length;
        continue;
      }
    }
    if (!inLink && (char === 'h' || char === 'H')) {
      const url = bareUrlAt(text, at);
      if (url) {
        flush();
        nodes.push(link(url, url));
        at += url.length;
        continue;
      }
    }
    plain += char;
    at += 1;
  }
  flush();
  return nodes;
}
