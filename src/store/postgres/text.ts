/**
 * PostgreSQL's text cannot hold U+0000, which JSON (and so a metadata key or
 * value, or a model name) can. The JSON columns are safe (JSON text writes it
 * as `\u0000`), but the columns the filters match on hold raw strings: there a
 * string with a NUL is written as `\u0001` + its JSON, and so is one that
 * already starts with `\u0001`, so two different strings never meet. Filters
 * only compare these columns for equality; what reads them back (a dump)
 * decodes them with `fromFilterText`.
 */
export function filterText(text: string): string {
  return text.includes('\u0000') || text.startsWith('\u0001') ? `\u0001${JSON.stringify(text)}` : text;
}

export function fromFilterText(stored: string): string {
  return stored.startsWith('\u0001') ? (JSON.parse(stored.slice(1)) as string) : stored;
}

/**
 * A LIMIT or OFFSET written into the statement's text, never bound: the service's sessions use generic
 * plans (postgres-client.ts), and a generic plan of `LIMIT $n` is costed for an unknown limit (a tenth of
 * the rows), where an ordered walk can lose to a sort. Only a whole number ever reaches SQL text.
 */
export function limitLiteral(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a LIMIT: ${n}`);
  return String(n);
}

/**
 * Ids are served back from their column, so they are not encoded: an id with
 * a NUL cannot have been stored (the service replaces such upstream ids), and
 * a lookup for one finds nothing without asking the database.
 */
export function isStorableId(id: string): boolean {
  return !id.includes('\u0000');
}
