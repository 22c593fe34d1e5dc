// The page's state lives in the URL's hash, in the API's own parameter names, so a filtered view can be
// bookmarked and shared, back/forward work, and the same filter pasted into a curl command means the same.
//   #/?model=gpt-4o&metadata[env]=prod&created_after=1700000000&search=refund&order=asc&usage=1
//   #/completions/chatcmpl-abc
//   #/completions/chatcmpl-abc?metadata[env]=prod&order=asc   (read within that list: its "Previous" and "Next")

import { isShowableTime } from './format.js';

const METADATA_PARAM = /^metadata\[(.*)\]$/s;
const TIME_PARAMS = [['created_after', 'Created after'], ['created_before', 'Created before']];

/**
 * A link cut inside an escape (`%E0%A4`) does not decode: taken as written, it is an id the service
 * answers with its 404, instead of an exception that left the previous view under the new URL.
 */
function decodedId(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The current route: `{ view: 'list', filters, order, usage, ignored }` or `{ view: 'completion', id, within }`,
 * `within` the list it is read in (its filters and order, in the list's own names after a `?`), or null.
 * `ignored` names the times of the link left out, `[label, value, whether it is a number]`: a time no date field
 * can show (past the year 275760, or 2^53 which the API refuses), or no number at all, would filter the list
 * with the field blank, or not at all, unseen.
 */
export function parseRoute(hash = location.hash) {
  const text = hash.replace(/^#/, '');
  const query = text.includes('?') ? text.slice(text.indexOf('?') + 1) : '';
  const completion = /^\/completions\/([^?]+)/.exec(text);
  if (completion) return { view: 'completion', id: decodedId(completion[1]), within: query ? listRoute(query) : null };
  return listRoute(query);
}

function listRoute(query) {
  const params = new URLSearchParams(query);
  const metadata = [];
  for (const [name, value] of params) {
    const match = METADATA_PARAM.exec(name);
    if (match && !metadata.some(([key]) => key === match[1])) metadata.push([match[1], value]);
  }
  const text_ = (name) => params.get(name) || undefined;
  const ignored = [];
  const seconds = (name) => {
    const value = params.get(name) ?? '';
    if (value === '') return undefined;
    const number = /^-?\d+$/.test(value);
    if (number && isShowableTime(value)) return value;
    // A date written by hand (`2026-12-01`) or a number no date field can show: left out, and said so, not dropped unseen.
    ignored.push([TIME_PARAMS.find(([param]) => param === name)[1], value, number]);
    return undefined;
  };
  return {
    view: 'list',
    filters: {
      model: text_('model'),
      metadata,
      created_after: seconds('created_after'),
      created_before: seconds('created_before'),
      search: text_('search'),
    },
    order: params.get('order') === 'asc' ? 'asc' : 'desc',
    usage: params.get('usage') === '1',
    ignored,
  };
}

/** The API query pairs of a filter (the list's, the usage's and the export's). */
export function filterPairs(filters) {
  return [
    ['model', filters.model],
    ...filters.metadata.map(([key, value]) => [`metadata[${key}]`, value]),
    ['created_after', filters.created_after],
    ['created_before', filters.created_before],
    ['search', filters.search],
  ];
}

export function listHash({ filters, order, usage }) {
  const params = new URLSearchParams();
  for (const [name, value] of filterPairs(filters)) {
    if (value !== undefined && value !== null) params.append(name, value);
  }
  if (order === 'asc') params.set('order', 'asc');
  if (usage) params.set('usage', '1');
  const query = params.toString();
  return query ? `#/?${query}` : '#/';
}

/**
 * A completion's address, and with `within` the list it is read in: its order always written (`order=desc` too), so
 * that the newest-first list of everything is a list as well, and the bare address keeps meaning "no list"; and
 * `usage=1` when that list showed its usage, so "← Completions" shows it again after a reload.
 */
export function completionHash(id, within) {
  const base = `#/completions/${encodeURIComponent(id)}`;
  if (!within) return base;
  const params = new URLSearchParams(listHash({ ...within, order: 'desc', usage: false }).slice(3));
  params.set('order', within.order);
  if (within.usage) params.set('usage', '1');
  return `${base}?${params}`;
}

export function hasFilters(filters) {
  return Boolean(filters.model || filters.metadata.length || filters.created_after || filters.created_before || filters.search);
}

/** Whether a completion (changed since it was listed) still has every metadata pair a list is filtered on. */
export function matchesMetadata(filters, completion) {
  return filters.metadata.every(([key, value]) => completion.metadata?.[key] === value);
}

/** A stable key for "the same list": used to keep the loaded pages when coming back from a conversation. */
export function listKey(route) {
  return listHash({ ...route, usage: false });
}
