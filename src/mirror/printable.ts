/**
 * Text a remote server chose (an id, an error message, a Location), made safe to print on a terminal: held as it
 * is when it is printable and short, else quoted as JSON (control characters, escape sequences, new lines and
 * other invisible characters escaped) and cut to `max` characters with an ellipsis. Printed raw, an id such as
 * `\u001b]0;...\u0007` retitled the operator's terminal, a new line forged a line of the tool's own output, and a
 * 10,000-character id filled the screen.
 */
export function printable(text: string, max = 200): string {
  // Anything but printable characters: C0 and C1 controls, DEL, bidi and other format characters, line and paragraph separators, lone surrogates.
  const plain = !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(text) && !/\s/.test(text.replace(/ /g, ''));
  if (plain && [...text].length <= max) return text;
  return quoted(text, max);
}

/**
 * Always quoted as JSON, cut to `max` characters with an ellipsis. JSON.stringify escapes C0 controls and lone
 * surrogates only: C1 controls (U+009B is a terminal's CSI), bidi overrides (U+202E turns the rest of the line
 * around) and line separators are escaped here too.
 */
export function quoted(text: string, max = 200): string {
  const characters = [...text];
  const json = JSON.stringify(characters.length > max ? `${characters.slice(0, max).join('')}…` : text);
  return json.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The longest message of the source's (its error's `message`) printed: OpenAI's are a line or two. */
export const MESSAGE_CHARACTERS = 1000;
