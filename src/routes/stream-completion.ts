import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { relayedErrorEvents } from '../streaming/error-events.ts';
import { ProviderReads, readFailure } from '../streaming/provider-reads.ts';
import { createSseParser, type SseEvent } from '../streaming/sse.ts';
import { readTextCapped, relayedBody } from '../upstream/body-reading.ts';
import type { UpstreamResponse } from '../upstream/client.ts';
import { forwardResponseHeaders, type HeaderRecord } from '../upstream/headers.ts';
import { parseCompletionText } from '../upstream-answer.ts';
import type { CreateCompletionDeps, CreatePlan } from './create-plan.ts';
import { type CompletionWrites, storeAndAnswer } from './store-and-answer.ts';
import { clientStream } from './stream-body.ts';
import { readFirstEvents } from './stream-first-events.ts';
import { StreamRelay } from './stream-relay.ts';
import { openUpstreamStream } from './stream-upstream.ts';
import { notACompletionAnswer } from './upstream-errors.ts';

/**
 * `POST /v1/chat/completions` with `stream: true`. Each upstream event is
 * forwarded as soon as it is complete, byte for byte unless it has to change
 * (a fresh id, the usage we asked for on the client's behalf). Meanwhile the
 * chunks are assembled into a `chat.completion`, stored when the upstream sends
 * `[DONE]` and before the client receives it, so a client that has seen
 * `[DONE]` can retrieve the completion. An error event, an event that is no
 * chunk, a dropped or silent upstream, or a client that goes away stores
 * nothing; a stored stream then ends with an error event, never `[DONE]`.
 *
 * The id is decided at the first chunk, since the client sees it there: when
 * the upstream's id is already stored for this tenant (or held by another
 * stream in flight) every chunk forwarded carries a fresh one instead.
 *
 * The steps, each in its own module: asking the provider (stream-upstream.ts),
 * the wait for a stored stream's first event (stream-first-events.ts), what each
 * event becomes and what is stored (stream-relay.ts, stream-store.ts), and the
 * client's stream that pulls them (stream-body.ts).
 */
export function createStreamCompletion(deps: CreateCompletionDeps, writes: CompletionWrites) {
  return async function streamCompletion(c: Context<AppEnv>, plan: CreatePlan): Promise<Response> {
    const opened = await openUpstreamStream(c, deps, plan);
    if ('answer' in opened) return opened.answer;
    const { response, hideUsage } = opened;
    const headers = forwardResponseHeaders(response.headers);
    if (isOneDocument(response)) return answerOneDocument(c, deps, writes, plan, response, headers);

    const reads = new ProviderReads(response.body, deps.upstream.timeoutMs, deps.upstream.responseLimitBytes, plan.store);
    const parser = createSseParser();
    const relay = new StreamRelay(c, plan, writes, hideUsage);
    let pending: SseEvent[] = [];
    if (plan.store) {
      const first = await readFirstEvents(reads, parser);
      if ('providerError' in first) return c.body(relayedErrorEvents(first.events), response.status as 200, headers);
      pending = first.events;
      if ('begun' in first) {
        reads.leave(first.unread);
      } else {
        // The id is decided before the client has an answer: a database that cannot be asked then is
        // the client's 503 (which the SDKs retry), not a 200 whose stream breaks off before its first byte.
        try {
          await relay.reserve(first.firstChunk);
        } catch (err) {
          reads.cancel();
          throw err;
        }
      }
    }
    return c.body(clientStream({ reads, parser, relay, pending, store: plan.store }), response.status as 200, headers);
  };
}

/** A provider that ignored `stream: true` and answered one JSON document. */
function isOneDocument(response: UpstreamResponse): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json');
}

/**
 * A provider's one JSON document, handed on as it came, not read as events; stored like a plain
 * call's answer when asked to, and a 502 when it is no completion.
 */
async function answerOneDocument(
  c: Context<AppEnv>,
  deps: CreateCompletionDeps,
  writes: CompletionWrites,
  plan: CreatePlan,
  response: UpstreamResponse,
  headers: HeaderRecord,
): Promise<Response> {
  const idleMs = deps.upstream.timeoutMs;
  if (!plan.store) return c.body(response.body ? relayedBody(c, response.body, idleMs) : '', response.status as 200, headers);
  const text = await readTextCapped(response.body, deps.upstream.responseLimitBytes, idleMs).catch((err) => {
    throw readFailure(err);
  });
  const parsed = parseCompletionText(text);
  if ('problem' in parsed) return notACompletionAnswer(c, response, text, parsed.problem);
  return storeAndAnswer(c, writes, plan, { completion: parsed.completion, text, status: response.status, headers });
}
