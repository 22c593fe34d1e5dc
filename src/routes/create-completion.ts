import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { readJsonObjectBytes } from '../http.ts';
import { clientGoneWatch, clientHeadersOf, clientQueryOf } from '../upstream/client-request.ts';
import { forwardResponseHeaders } from '../upstream/headers.ts';
import { parseCompletionText } from '../upstream-answer.ts';
import { type CreateCompletionDeps, type CreatePlan, planCreate, upstreamBody } from './create-plan.ts';
import { type CompletionWrites, createCompletionWrites, storeAndAnswer } from './store-and-answer.ts';
import { createStreamCompletion } from './stream-completion.ts';
import { notACompletionAnswer, upstreamErrorResponse } from './upstream-errors.ts';

/**
 * `POST /v1/chat/completions`, non-streaming: forwards to the provider and,
 * when asked to store, writes the completion before answering, so a 200 means
 * it is on disk.
 */
async function createCompletion(c: Context<AppEnv>, deps: CreateCompletionDeps, writes: CompletionWrites, plan: CreatePlan): Promise<Response> {
  const response = await deps.upstream.send(`/chat/completions${clientQueryOf(c.req.raw, c.env)}`, {
    method: 'POST',
    headers: clientHeadersOf(c.req.raw, c.env),
    authorization: c.get('tenant').upstreamAuthorization,
    jsonBody: true,
    body: upstreamBody(plan),
    ...clientGoneWatch(c.req.raw, c.env),
  });
  if (!response.ok) return upstreamErrorResponse(c, response, deps.upstream);

  const headers = forwardResponseHeaders(response.headers);
  const text = await response.text();
  if (!plan.store) return c.body(text, response.status as 200, headers);
  const parsed = parseCompletionText(text);
  if ('problem' in parsed) return notACompletionAnswer(c, response, text, parsed.problem);
  return storeAndAnswer(c, writes, plan, { completion: parsed.completion, text, status: response.status, headers });
}

/** Reads and plans the request, then hands it to the streaming or the plain path. */
export function createCompletionHandler(deps: CreateCompletionDeps) {
  const writes = createCompletionWrites(deps.store);
  const streamCompletion = createStreamCompletion(deps, writes);
  return async (c: Context<AppEnv>): Promise<Response> => {
    const { object: request, bytes } = await readJsonObjectBytes(c, deps.config);
    const plan = planCreate(request, bytes, deps.config);
    // The database failed a write a moment ago: a 503 now, before the provider is paid for an answer that could not be kept.
    if (plan.store) {
      // A promise only past the hold, while the database is asked whether it takes writes again.
      const check = writes.writer.refuseWhileUnavailable();
      if (check) await check;
    }
    if (request.stream === true) return streamCompletion(c, plan);
    if (!plan.store) return createCompletion(c, deps, writes, plan);
    // Counted from before the provider call: whether another create could still join this one's group commit.
    writes.writer.beginCreate();
    try {
      return await createCompletion(c, deps, writes, plan);
    } finally {
      writes.writer.endCreate();
    }
  };
}
