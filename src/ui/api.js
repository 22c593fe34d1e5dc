// The page's only way to the service: same-origin requests to the public API, with the key the user
// typed sent as the Authorization header and nowhere else. The key lives in this tab's sessionStorage.

const KEY_STORAGE = 'stored-completions:api-key';

export function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/** Set in a tab signed out (or whose key was refused): it takes no other tab's key until signed in again (key-handoff.js). */
const SIGNED_OUT_STORAGE = 'stored-completions:signed-out';

export function rememberKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
  sessionStorage.removeItem(SIGNED_OUT_STORAGE);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
  sessionStorage.setItem(SIGNED_OUT_STORAGE, '1');
}

/** This tab was signed out (and not signed in since): a reload of it stays signed out whatever other tabs hold. */
export function signedOutHere() {
  try {
    return sessionStorage.getItem(SIGNED_OUT_STORAGE) !== null;
  } catch {
    return false;
  }
}

/**
 * "sk-ab…wxyz": enough to tell keys apart on screen, never most of the key. A short key shows less: its last four
 * from 12 characters, nothing below (a 9-character key shown as five and four was shown whole).
 */
export function maskKey(key) {
  if (key.length >= 20) return `${key.slice(0, 5)}…${key.slice(-4)}`;
  if (key.length >= 12) return `…${key.slice(-4)}`;
  return '•'.repeat(Math.min(key.length, 8));
}

/**
 * What to say of an answer without OpenAI's error body: the service always sends one, so such an
 * answer most likely came from something in front of it (a proxy, a balancer) that could not reach it.
 */
function answerWithoutBody(status) {
  if (status === 502 || status === 503 || status === 504) {
    return `The service answered ${status} without saying why: most likely a proxy in front of it could not reach it (restarting, or down). Try again in a moment.`;
  }
  return `The service answered ${status} without saying why (the answer was not the API's): a proxy in front of it may have answered instead.`;
}

/** An error answered by the API, carrying OpenAI's error body. */
export class ApiRequestError extends Error {
  constructor(status, error) {
    super(error?.message || answerWithoutBody(status));
    this.name = 'ApiRequestError';
    this.status = status;
    this.param = error?.param ?? null;
    this.code = error?.code ?? null;
  }
}

/** No HTTP answer at all: the service is down or restarting, or the network between is. */
export const UNREACHABLE = 'The service did not answer: it may be down or restarting, or the network is off. Try again in a moment.';

const unauthorizedListeners = new Set();

/** Called with the error when any request is refused with 401 (the key was revoked, or is wrong). */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
}

/** A raw response from `path` (same origin), thrown as ApiRequestError unless 2xx. */
export async function apiResponse(path, { method = 'GET', body, signal, key = storedKey() } = {}) {
  // fetch refuses such a header with a browser's own wording; say what is wrong with the key instead.
  // As the service reads keys (src/config.ts): printable ASCII and Latin-1's letters, which fetch sends as one byte each.
  if (key && /[^\x20-\x7e\xa1-\xac\xae-\xff]/.test(key)) {
    throw new ApiRequestError(401, { message: 'This API key holds characters no API key has (a control character, an invisible one, or one past U+00FF): check that it was copied whole and alone.' });
  }
  const headers = { authorization: `Bearer ${key ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (failure) {
    if (failure?.name === 'AbortError') throw failure;
    // fetch says only "Failed to fetch" (Chromium) or "NetworkError…" (Firefox) when no answer came at all:
    // say that the service did not answer, which is what the user can act on.
    throw new ApiRequestError(0, { message: UNREACHABLE });
  }
  if (!response.ok) {
    let error = null;
    try {
      error = (await response.json())?.error ?? null;
    } catch {
      error = null;
    }
    const failure = new ApiRequestError(response.status, error);
    if (response.status === 401) for (const listener of unauthorizedListeners) listener(failure);
    throw failure;
  }
  return response;
}

export async function api(path, options) {
  const response = await apiResponse(path, options);
  return parseJson(await response.text());
}

/** Sixteen digits in a row: the fewest an integer past 2^53 has (the service's src/exact-integers.ts). */
const MAYBE_UNSAFE = /\d{16}/;
const INTEGER = /^-?\d+$/;

/**
 * JSON.parse, except that an integer past 2^53 (an int64 `seed`, a tool schema's `maximum`), which the
 * service stores and answers as the client wrote it, stays that text (JSON.rawJSON): shown, and written
 * back by JSON.stringify into the raw JSON and the curl snippet, unrounded. Rounded, the curl snippet
 * would send 9223372036854776000 for 9223372036854775807, past int64, which OpenAI refuses.
 */
export function parseJson(text) {
  if (typeof JSON.rawJSON !== 'function' || !MAYBE_UNSAFE.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value, context) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && INTEGER.test(context?.source ?? '') ? JSON.rawJSON(context.source) : value,
  );
}

/** A query string from pairs, skipping absent values (an empty string is a value: `metadata[k]=` filters on it). */
export function queryString(pairs) {
  const params = new URLSearchParams();
  for (const [name, value] of pairs) {
    if (value === undefined || value === null) continue;
    params.append(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * `.` and `..` are ids no path can carry: the browser resolves such a segment before fetch sends it, and the URL
 * standard reads `%2E` as a dot for that (so escaping does not help), which turns the completion `..` into
 * `/v1/chat/`: not ours, so the service would forward it to the provider with the tenant's upstream key, and
 * Delete would send the provider a DELETE. The service never stores a completion under either id (it gives such an
 * upstream id a fresh one, src/completion-ids.ts), so its answer is known without asking: its 404, in its words.
 */
const PATHLESS_IDS = new Set(['.', '..']);

/** The path of one completion; throws the service's 404 for an id no path can carry (see PATHLESS_IDS). */
export function completionPath(id) {
  if (PATHLESS_IDS.has(id)) throw notFoundError(id);
  return `/v1/chat/completions/${encodeURIComponent(id)}`;
}

/** The most ids one metadata change names (the service's METADATA_CHANGE_MAX_IDS). */
export const METADATA_CHANGE_MAX_IDS = 100;

/**
 * `change` ({ set, remove, expect }) merged by the service into each completion's map as it is stored at that moment
 * (docs/api.md): what OpenAI's update, which replaces the whole map, cannot do without undoing another operator's
 * tags written between a read and a write. The answers, one per id in order: { id, outcome, metadata, previous_metadata }.
 */
export async function changeMetadata(ids, change, { signal } = {}) {
  return (await api('/v1/stored-completions/metadata', { method: 'POST', body: { ids, ...change }, signal })).data;
}

/** What the API answers for a completion it does not have: a metadata change's `not_found`, said as a retrieve's 404. */
export const notFoundError = (id) => new ApiRequestError(404, { message: `No chat completion found with id '${id}'.` });

/** Every input message of a completion, following the cursor (a conversation rarely needs more than one page). */
export async function allMessages(id, signal) {
  const messages = [];
  let after;
  for (;;) {
    const page = await api(`${completionPath(id)}/messages${queryString([['limit', 100], ['after', after]])}`, { signal });
    messages.push(...page.data);
    if (!page.has_more || page.data.length === 0) return messages;
    after = page.data[page.data.length - 1].id;
  }
}
