import type { ListFilters } from '../validation.ts';
import type { UsageRow, UsageSummary } from './contract.ts';
import { SECONDS_PER_DAY } from './derived-fields.ts';

/**
 * A created range that cuts UTC days, split for the usage rollup: its whole days (`whole`, read
 * from the rollup) and the cut days at its edges (`edges`, less than a day each, added up over the
 * completions). Undefined when the range lies inside one day (no whole day: all of it is walked).
 */
export function splitAtWholeDays(filters: ListFilters): { whole: ListFilters; edges: ListFilters[] } | undefined {
  const { createdAfter: after, createdBefore: before } = filters;
  const wholeFrom = after === undefined ? undefined : Math.ceil(after / SECONDS_PER_DAY) * SECONDS_PER_DAY;
  const wholeTo = before === undefined ? undefined : Math.floor(before / SECONDS_PER_DAY) * SECONDS_PER_DAY;
  if (wholeFrom !== undefined && wholeTo !== undefined && wholeFrom >= wholeTo) return undefined;
  const edges: ListFilters[] = [];
  if (after !== wholeFrom) edges.push({ ...filters, createdAfter: after, createdBefore: wholeFrom });
  if (before !== wholeTo) edges.push({ ...filters, createdAfter: wholeTo, createdBefore: before });
  return { whole: { ...filters, createdAfter: wholeFrom, createdBefore: wholeTo }, edges };
}

/** The usage summary's order: by day, then model bytewise (UTF-8), as SQLite's BINARY collation compares. */
export function byDayThenModel(a: UsageRow, b: UsageRow): number {
  return a.day - b.day || Buffer.compare(Buffer.from(a.model), Buffer.from(b.model));
}

/** Summaries of different days as one: ordered by day, then model bytewise. */
export function mergeUsageParts(parts: UsageSummary[]): UsageSummary {
  const rows = parts.flatMap((part) => part.rows).sort(byDayThenModel);
  return { rows, truncated: parts.some((part) => part.truncated) };
}
