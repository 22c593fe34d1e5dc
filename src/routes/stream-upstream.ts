import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { isObject, type Json } from '../json.ts';
import { clientGoneWatch, clientHeadersOf, clientQueryOf } from '../upstream/client-request.ts';
import type { UpstreamResponse } from '../upstream/client.ts';
import { type CreateCompletionDeps, type CreatePlan, upstreamBody } from './create-plan.ts';
import { readErrorText, upstreamErrorFromText, upstreamErrorResponse } from './upstream-errors.ts';

/**
 * The body sent upstream. A stored stream always asks for usage, so the stored
 * completion carries it; `hideUsage` says the client did not ask, and must not
 * see the usage-only chunk (code reading `chunk.choices[0]` would break).
 */
function planUpstreamBody(plan: CreatePlan): { streamOptions: Json | undefined; hideUsage: boolean } {
  const options = plan.request.stream_options;
  // A stored stream's stream_options is an object or absent, its include_usage a boolean or absent (planCreate).
  if (!plan.store || (isObject(options) && options.include_usage === true)) {
    return { streamOptions: undefined, hideUsage: false };
  }
  return { streamOptions: { ...(isObject(options) ? options : {}), include_usage: true }, hideUsage: true };
}

/** The provider's streamed answer (and whether the client must not see its usage), or the error answer the client gets instead. */
export type OpenedStream = { response: UpstreamResponse; hideUsage: boolean } | { answer: Response };

/**
 * Asks the provider for the stream: a status that is not 2xx is the client's answer, in OpenAI's error
 * shape. Kept apart from the relay because of the one retry below, which decides `hideUsage`.
 */
export async function openUpstreamStream(c: Context<AppEnv>, deps: CreateCompletionDeps, plan: CreatePlan): Promise<OpenedStream> {
  const planned = planUpstreamBody(plan);
  let { hideUsage } = planned;
  const send = (streamOptions: Json | undefined) =>
    deps.upstream.send(`/chat/completions${clientQueryOf(c.req.raw, c.env)}`, {
      method: 'POST',
      headers: clientHeadersOf(c.req.raw, c.env),
      authorization: c.get('tenant').upstreamAuthorization,
      jsonBody: true,
      body: upstreamBody(plan, streamOptions),
      ...clientGoneWatch(c.req.raw, c.env),
      streamed: true,
    });
  let response = await send(planned.streamOptions);
  if (hideUsage && !response.ok) {
    const text = await readErrorText(response, deps.upstream);
    // A provider that refuses the stream_options we added on the client's behalf: ask again as the
    // client asked. The stream is still stored, only without usage. Any other error is the client's answer.
    // Only a 400 or 422 that names them: a rate limit or a server error whose body echoes the request is
    // the client's answer after one call, not a reason to send the request twice.
    const refusesOptions = (response.status === 400 || response.status === 422) && /stream_options|include_usage/.test(text);
    if (!refusesOptions) return { answer: upstreamErrorFromText(c, response, text) };
    response = await send(undefined);
    hideUsage = false;
  }
  if (!response.ok) return { answer: await upstreamErrorResponse(c, response, deps.upstream) };
  return { response, hideUsage };
}
