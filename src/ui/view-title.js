// The document's title for a list: what it shows (its search, model, metadata, dates, order, usage), so that
// browser tabs and history entries of different views tell themselves apart. The part that differs comes first:
// a narrow tab shows only the start.

import { cutText, toLocalInput } from './format.js';

/** Past this many characters a search or a metadata value is cut: the title names the view, it does not hold it. */
const PART_LENGTH = 40;

function cut(text) {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > PART_LENGTH ? `${cutText(line, PART_LENGTH - 1)}…` : line;
}

/** A filter's time as its date field shows it, without the seconds (and the time) when they are zero. */
function day(seconds) {
  return toLocalInput(seconds).replace('T', ' ').replace(/:00$/, '').replace(/ 00:00$/, '');
}

/** `Search "refund" · model gpt-4o · Completions · Stored completions`; `Usage` in place of `Completions` with its panel. */
export function listTitle({ filters, order, usage }) {
  const parts = [];
  if (filters.search) parts.push(`Search "${cut(filters.search)}"`);
  if (filters.model) parts.push(`model ${cut(filters.model)}`);
  for (const [key, value] of filters.metadata) parts.push(`${cut(key)}: ${value === '' ? '""' : cut(value)}`);
  if (filters.created_after) parts.push(`after ${day(filters.created_after)}`);
  if (filters.created_before) parts.push(`before ${day(filters.created_before)}`);
  if (order === 'asc') parts.push('oldest first');
  parts.push(usage ? 'Usage' : 'Completions', 'Stored completions');
  return parts.join(' · ');
}
