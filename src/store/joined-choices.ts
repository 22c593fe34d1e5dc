/**
 * A completion's choices as both backends keep them in its row: their JSON texts joined by commas
 * in `index` order, the inside of the array the API serves (`[${joined}]`), '' for none.
 */

/** The stored column of a record's choices. */
export function joinChoices(choices: string[]): string {
  return choices.join(',');
}

/**
 * The choices' JSON texts back from the joined column, each byte for byte as it was stored (a copy
 * needs the texts, not values re-serialized): split at the commas outside any string, object or
 * array. The texts are well-formed JSON, so brackets balance and every string closes.
 */
export function splitChoices(joined: string): string[] {
  const texts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < joined.length; i++) {
    const char = joined.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i++;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b /* { */ || char === 0x5b /* [ */) depth++;
    else if (char === 0x7d /* } */ || char === 0x5d /* ] */) depth--;
    else if (char === 0x2c /* , */ && depth === 0) {
      texts.push(joined.slice(start, i));
      start = i + 1;
    }
  }
  if (joined.length > 0) texts.push(joined.slice(start));
  return texts;
}
