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

/** One line outside a fence: its leading syntax dropped, code spans kept as their characters, the rest's syntax dropped. */
function plainLine(line) {
  if (RULE.test(line)) return '';
  const text = line.replace(LINE_START, '').replace(CLOSING_HASHES, '');
  let plain = '';
  let at = 0;
  for (const match of text.matchAll(CODE_SPAN)) {
    plain += inline(text.slice(at, match.index)) + match[2];
    at = match.index + match[0].length;
  }
  return plain + inline(text.slice(at));
}

/** `text` (a preview's few hundred characters, not a whole message) without markdown's syntax. */
export function plainText(text) {
  let fenced = false;
  return text
    .split('\n')
    .map((line, index, lines) => {
      // A fence's own line (and its language) goes; the code inside stays as written.
      if (FENCE.test(line)) {
        fenced = !fenced;
        return '';
      }
      if (fenced) return line;
      // Under a line of text, a line of "=" makes it a heading: "Title === First item" read the underline as words.
      if (SETEXT_UNDERLINE.test(line) && index > 0 && /\S/.test(lines[index - 1])) return '';
      return plainLine(line);
    })
    .join('\n');
}
