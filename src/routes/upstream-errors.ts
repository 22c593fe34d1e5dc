import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { readAnswerText, type Upstream, type UpstreamResponse } from '../upstream/client.ts';
import { notStoredError } from '../upstream-answer.ts';
import { errorStatusOfAnswer, normalizeUpstreamError } from '../upstream/failures.ts';
import { forwardResponseHeaders } from '../upstream/headers.ts';

/**
 * The provider's error statuses as the client gets them: status kept, body in
 * OpenAI's error shape. One home for the plain create, the stream and the
 * pass-through, which all answer a provider's refusal the same way.
 */

/** The upstream's error, status kept, body in OpenAI's error shape. */
export async function upstreamErrorResponse(c: Context<AppEnv>, response: UpstreamResponse, upstream: Upstream): Promise<Response> {
  return upstreamErrorFromText(c, response, await readErrorText(response, upstream));
}

/** An error body, read under the idle timeout and the size limit; one that breaks off or is too large leaves only the status to report. */
export async function readErrorText(response: UpstreamResponse, upstream: Pick<Upstream, 'timeoutMs' | 'responseLimitBytes'>): Promise<string> {
  return readAnswerText(response, upstream).catch(() => '');
}

/**
 * The upstream's error status with its already-read body, in OpenAI's error shape. A redirect (3xx) to a create is
 * a 502 without its `Location`: handed on, the client's SDK followed it, sending the prompt straight to where it
 * pointed, around the proxy (nothing stored, the provider's address learnt), or turning the POST into a GET whose
 * 200 stored nothing. Not retried: the provider would redirect again.
 */
export function upstreamErrorFromText(c: Context<AppEnv>, response: Pick<UpstreamResponse, 'status' | 'headers'>, text: string): Response {
  if (response.status >= 300 && response.status < 400) {
    throw new ApiError(
      502,
      `The upstream provider answered a create with a redirect (HTTP ${response.status}), which is not followed: check that UPSTREAM_BASE_URL is the provider's own address.`,
      'server_error',
    ).notRetryable();
  }
  const headers = forwardResponseHeaders(response.headers);
  headers['content-type'] = 'application/json';
  return c.body(normalizeUpstreamError(response.status, text), response.status as 400, headers);
}

/**
 * A stored create's answer when the provider's 200 held no completion (`problem` says what it held instead): an
 * error naming its own status (OpenRouter's, errorStatusOfAnswer) is the client's answer with that status, in OpenAI's
 * error shape, as the same error before the model started would have been (a 429 the SDKs back off and retry, a 502
 * for a model that is down); anything else the 502 of notStoredError.
 */
export function notACompletionAnswer(c: Context<AppEnv>, response: Pick<UpstreamResponse, 'status' | 'headers'>, text: string, problem: string): Response {
  const status = errorStatusOfAnswer(text);
  if (status === undefined) throw notStoredError(problem, response.status);
  return upstreamErrorFromText(c, { status, headers: response.headers }, text);
}
