/**
 * Counts as people read them, for the command-line tool's progress lines, summaries and messages (and the import's
 * and mirror's, which it prints): one spelling wherever a count is shown. Only for what people read: JSON lines keep digits.
 */

/** `1,234,567`: en-US grouping whatever the machine's locale, so a message reads the same everywhere (and a script matching it meets one spelling). */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 line`, `2 lines`, `1,500 lines`: a summary read by people, who stumble over `1 lines`. */
export function counted(n: number, noun: string): string {
  return `${count(n)} ${n === 1 ? noun : `${noun}s`}`;
}
