// The words of a markdown text without its syntax, for a card's one-line preview: `# About refunds` reads
// "About refunds", `**due**` "due", `[the page](https://…)` "the page". Not a parser (markdown.js draws the
// conversation): a few line-by-line substitutions for what models write most, leaving text that merely looks
// like syntax (`2 * 3 * 4`, `snake_case`) and the inside of code as they are.

const FENCE = /^ {0,3}(?:`{3,}|~{3,})/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
/** A heading's underline (`Title` over `=====`); its `---` form is a rule's line already. */
const SETEXT_UNDERLINE = /^ {0,3}=+[ \t]*$/;
/** A line's leading syntax: quote marks, a heading's hashes, a list's bullet and task box. */
const LINE_START = /^[ \t]*(?:>[ \t]?)*[ \t]*(?:#{1,6}(?=[ \t]|$)|[-*+](?=[ \t])(?:[ \t]+\[[ xX]\](?=[ \t]))?)?[ \t]*/;
const CLOSING_HASHES = /[ \t]+#+[ \t]*$/;
/** A table's delimiter row (`|---|:--:|`, `--- | ---`): a pipe and dashes, colons and spaces only. */
const TABLE_DELIMITER = /^ {0,3}(?=[^\n]*\|)\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
/** A cell's edge in a table row: a pipe not escaped (`\|` is the character). */
const CELL_EDGE = /(?<!\\)\|/g;
const CODE_SPAN = /(?<!`)(`+)(?!`)([^\n]+?)(?<!`)\1(?!`)/g;
/** Inline syntax outside code: images and links by their text, an autolink by its address, emphasis and strike-through by their words. */
const INLINE = [
  [/!?\[([^\]\n]*)\]\([^)\n]*\)/g, '$1'],
  [/<((?:https?:\/\/|mailto:)[^>\s]+)>/gi, '$1'],
  [/\*\*(?=\S)([^\n]*?\S)\*\*/g, '$1'],
  [/(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])/g, '$1'],
  [/(?<!\w)__(?=\S)([^\n]*?\S)__(?!\w)/g, '$1'],
  [/(?<!\w)_(?=[^\s_])([^_\n]*?[^\s_])_(?!\w)/g, '$1'],
  [/~~(?=\S)([^\n]*?\S)~~/g, '$1'],
];

function inline(text) {
  return INLINE.reduce((line, [pattern, replacement]) => line.replace(pattern, replacement), text);
}

/** A table row's cells as words side by side: its pipes outside code spans go (markdown.js keeps one in a code span in its cell). */
function cellWords(text) {
  return text.replace(CELL_EDGE, ' ').replaceAll('\\|', '|');
}

/**
 * One line outside a fence: its leading syntax dropped, code spans kept as their characters, the rest's syntax
 * dropped; in a table's row (`inTable`), its pipes too.
 */
function plainLine(line, inTable) {
  if (RULE.test(line)) return '';
  const text = line.replace(LINE_START, '').replace(CLOSING_HASHES, '');
  const words = inTable ? (part) => cellWords(inline(part)) : inline;
  let plain = '';
  let at = 0;
  for (const match of text.matchAll(CODE_SPAN)) {
    plain += words(text.slice(at, match.index)) + match[2];
    at = match.index + match[0].length;
  }
  return plain + words(text.slice(at));
}

/** `text` (a preview's few hundred characters, not a whole message) without markdown's syntax. */
export function plainText(text) {
  let fenced = false;
  let inTable = false;
  return text
    .split('\n')
    .map((line, index, lines) => {
      // A fence's own line (and its language) goes; the code inside stays as written.
      if (FENCE.test(line)) {
        fenced = !fenced;
        inTable = false;
        return '';
      }
      if (fenced) return line;
      // Under a line of text, a line of "=" makes it a heading: "Title === First item" read the underline as words.
      if (SETEXT_UNDERLINE.test(line) && index > 0 && /\S/.test(lines[index - 1])) return '';
      // A table: its header is the line over the delimiter row, its body the lines after it up to a blank one. A
      // reply opening on a comparison table read "| Plan | Price | |---|---| | Basic | $5 |" on its card.
      if (TABLE_DELIMITER.test(line) && index > 0 && lines[index - 1].includes('|')) return '';
      if (!/\S/.test(line)) inTable = false;
      else if (!inTable) inTable = line.includes('|') && TABLE_DELIMITER.test(lines[index + 1] ?? '');
      return plainLine(line, inTable);
    })
    .join('\n');
}
