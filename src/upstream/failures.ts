import { ApiError, type ErrorBody } from '../errors.ts';
import { isObject } from '../json.ts';

/** A provider's failures as the client sees them: unreachable or too slow, and its error bodies in OpenAI's shape. */

/** What a failed call to the provider becomes: 504 after the timeout, 502 when it could not be reached. */
export function toUpstreamFailure(err: unknown, timedOut: boolean): ApiError {
  if (timedOut) {
    return new ApiError(504, 'The upstream provider did not answer in time.', 'server_error');
  }
  // undici's request API puts the system error's code on the error itself (fetch, which streamed calls
  // used before, put it on its cause). A DOMException (an aborted call) has a numeric code, and undici's
  // own errors (UND_ERR_...) name no system error.
  const code = (err as { code?: unknown }).code;
  // Reached, but its headers were past what Node reads (16 KB by default): asking again gets the same headers.
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    return new ApiError(502, "The upstream provider's response headers were larger than this service reads.", 'server_error').notRetryable();
  }
  const cause = typeof code === 'string' && code.startsWith('E') ? code : undefined;
  return new ApiError(
    502,
    `Could not reach the upstream provider${cause ? ` (${cause})` : ''}.`,
    'server_error',
  );
}

/**
 * The type OpenAI's API gives an error of this status: `invalid_request_error` for every 4xx (its 401 for a wrong
 * key and its 404 for an unknown model too), `requests` for a rate limit (with the code `rate_limit_exceeded`).
 */
function errorTypeForStatus(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** OpenAI's own error body: an `error` object with all four fields, which passes to the client unchanged. */
function isErrorShape(value: unknown): value is ErrorBody {
  const error = (value as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as Record<string, unknown>;
  return (
    typeof e.message === 'string' &&
    typeof e.type === 'string' &&
    (e.param === null || typeof e.param === 'string') &&
    (e.code === null || typeof e.code === 'string')
  );
}

/**
 * Error types a provider's body may keep: OpenAI's own (`requests` and `tokens` are its rate limits), and the
 * per-status names some OpenAI-compatible providers use; others (vLLM's `BadRequestError`) give way to the status's.
 */
const OPENAI_ERROR_TYPES = new Set([
  'invalid_request_error',
  'requests',
  'tokens',
  'insufficient_quota',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'server_error',
]);

/** The most useful message in a non-OpenAI error body: vLLM's `message`, FastAPI's `detail`, a bare string, or the text itself. */
function findMessage(parsed: unknown, text: string, status: number): string {
  if (typeof parsed === 'string' && parsed !== '') return parsed;
  if (typeof parsed === 'object' && parsed !== null) {
    const p = parsed as Record<string, unknown>;
    for (const field of ['message', 'detail', 'error', 'msg']) {
      if (typeof p[field] === 'string' && p[field] !== '') return p[field] as string;
    }
    if (Array.isArray(p.detail)) return JSON.stringify(p.detail);
  }
  const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain === '' ? `The upstream provider answered with status ${status}.` : plain.slice(0, 1000);
}

/**
 * An upstream error body for the client: OpenAI's shape passes unchanged; any
 * other body (HTML, vLLM's `{"object":"error"}`, plain text) is rewritten into
 * it, keeping the provider's message.
 */
export function normalizeUpstreamError(status: number, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Gemini's OpenAI-compatible endpoint answers its errors as an array of one: `[{"error": {...}}]`.
  const wrapped = Array.isArray(parsed) && parsed.length > 0 && isObject(parsed[0]) && isObject(parsed[0].error);
  if (wrapped) parsed = (parsed as unknown[])[0];
  if (isErrorShape(parsed)) return wrapped ? JSON.stringify(parsed) : text;
  const outer = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  // `{"error": {...}}` missing some of the four fields: its own fields are the source, completed below.
  const nested = isObject(outer.error);
  const p = (nested ? outer.error : outer) as Record<string, unknown>;
  // OpenAI's quota error names `insufficient_quota` as both its type and its code; a body naming it as either is that.
  const quota = p.type === 'insufficient_quota' || p.code === 'insufficient_quota';
  const type = quota ? 'insufficient_quota' : typeof p.type === 'string' && OPENAI_ERROR_TYPES.has(p.type) ? p.type : errorTypeForStatus(status);
  const body: ErrorBody = {
    error: {
      message: findMessage(nested ? p : parsed, text, status),
      type,
      param: typeof p.param === 'string' ? p.param : null,
      code: quota ? 'insufficient_quota' : typeof p.code === 'string' ? p.code : status === 429 ? 'rate_limit_exceeded' : null,
    },
  };
  return JSON.stringify(body);
}

/**
 * The status a provider's 200 names for the error it holds instead of a completion, or undefined. OpenRouter answers
 * an error that came while the model was producing its output (the model's provider down, rate limited, timed out)
 * with status 200 and `{"error": {"code": 502, "message": "...", "metadata": {...}}}`, `code` being the status the
 * error would have had (https://openrouter.ai/docs/errors). OpenAI's own codes are strings: only an integer from
 * 400 to 599 is read as a status.
 */
export function errorStatusOfAnswer(text: string): number | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const code = isObject(parsed) && isObject(parsed.error) ? parsed.error.code : undefined;
  return typeof code === 'number' && Number.isInteger(code) && code >= 400 && code <= 599 ? code : undefined;
}
