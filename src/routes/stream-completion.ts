import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { IdAllocator, IdReservation } from '../completion-ids.ts';
import type { ErrorBody } from '../errors.ts';
import { createCompletionAssembler } from '../streaming/assemble.ts';
import { createSseParser, formatSseData, type SseEvent } from '../streaming/sse.ts';
import { forwardResponseHeaders, readWithin, type ReadResult, UpstreamIdleTimeout, withIdleTimeout } from '../upstream.ts';
import { toCompletionRecord } from '../wire.ts';
import {
  readErrorText,
  upstreamErrorFromText,
  upstreamErrorResponse,
  type CreateCompletionDeps,
  type CreatePlan,
} from './create-completion.ts';
import { isObject, type Json } from '../json.ts';

function errorEvent(message: string): string {
  const body: ErrorBody = { error: { message, type: 'server_error', param: null, code: null } };
  return formatSseData(JSON.stringify(body));
}

/**
 * The body sent upstream. A stored stream always asks for usage, so the stored
 * completion carries it; `hideUsage` says the client did not ask, and must not
 * see the usage-only chunk (code reading `chunk.choices[0]` would break).
 */
function planUpstreamBody(plan: CreatePlan): { body: Json; hideUsage: boolean } {
  const options = plan.forwarded.stream_options;
  const clientAsked = isObject(options) && options.include_usage === true;
  // A malformed stream_options goes upstream as it came, for the provider to refuse.
  if (!plan.store || clientAsked || (options !== undefined && options !== null && !isObject(options))) {
    return { body: plan.forwarded, hideUsage: false };
  }
  return { body: { ...plan.forwarded, stream_options: { ...(options ?? {}), include_usage: true } }, hideUsage: true };
}

/**
 * `POST /v1/chat/completions` with `stream: true`. Each upstream event is
 * forwarded as soon as it is complete, byte for byte unless it has to change
 * (a fresh id, the usage we asked for on the client's behalf). Meanwhile the
 * chunks are assembled into a `chat.completion`, stored when the upstream sends
 * `[DONE]` and before the client receives it, so a client that has seen
 * `[DONE]` can retrieve the completion. An error event, a dropped or silent
 * upstream, or a client that goes away stores nothing.
 *
 * The id is decided at the first chunk, since the client sees it there: when
 * the upstream's id is already stored for this tenant (or held by another
 * stream in flight) every chunk forwarded carries a fresh one instead.
 */
export function createStreamCompletion(deps: CreateCompletionDeps, ids: IdAllocator) {
  return async function streamCompletion(c: Context<AppEnv>, plan: CreatePlan): Promise<Response> {
    const { tenant, requestId } = c.var;
    const planned = planUpstreamBody(plan);
    let { hideUsage } = planned;
    const send = (body: Json) =>
      deps.upstream.send('/chat/completions', {
        method: 'POST',
        headers: c.req.raw.headers,
        authorization: tenant.upstreamAuthorization,
        body: JSON.stringify(body),
        signal: c.req.raw.signal,
        streamed: true,
      });
    let response = await send(planned.body);
    if (hideUsage && !response.ok) {
      const text = await readErrorText(response, deps.upstream.timeoutMs);
      // A provider that refuses the stream_options we added on the client's behalf: ask again as the
      // client asked. The stream is still stored, only without usage. Any other error is the client's answer.
      if (!/stream_options|include_usage/.test(text)) return upstreamErrorFromText(c, response, text);
      response = await send(plan.forwarded);
      hideUsage = false;
    }
    if (!response.ok) return upstreamErrorResponse(c, response, deps.upstream.timeoutMs);
    const headers = forwardResponseHeaders(response.headers);
    // A provider that ignored `stream: true` and answered one JSON document: handed on as it came, not read as events.
    if ((response.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json')) {
      return c.body(response.body ? withIdleTimeout(response.body, deps.upstream.timeoutMs) : '', response.status as 200, headers);
    }

    const reader = (response.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() })).getReader();
    const parser = createSseParser();
    const assembler = createCompletionAssembler();
    const encoder = new TextEncoder();
    const idleMs = deps.upstream.timeoutMs;

    let reservation: IdReservation | undefined;
    let sawChunk = false;
    /** After an error event or an unreadable event nothing is stored, and the rest passes through as it comes. */
    let failed = false;
    let doneSeen = false;
    let ended = false;

    const release = () => reservation?.release();

    /** Writes the assembled completion; false when it could not be written. */
    async function save(): Promise<boolean> {
      if (!sawChunk || reservation === undefined) return true;
      try {
        // Another process on the same database may have taken the id since the first chunk: never overwrite.
        const storedId = await ids.finalId(tenant.project, reservation);
        await deps.store.saveCompletion(
          tenant.project,
          toCompletionRecord({
            request: plan.request,
            response: assembler.result(storedId),
            id: storedId,
            requestId,
            metadata: plan.metadata,
            now: Math.floor(Date.now() / 1000),
          }),
        );
        return true;
      } catch {
        return false;
      }
    }

    const isDone = (event: SseEvent) => !failed && !doneSeen && event.data?.trim() === '[DONE]';

    /** What to forward for one upstream event ('' to forward nothing). */
    async function relay(event: SseEvent): Promise<string> {
      if (failed || doneSeen || event.data === undefined) return event.raw;
      if (isDone(event)) {
        doneSeen = true;
        if (plan.store && !(await save())) {
          failed = true;
          return errorEvent('The completion could not be stored.');
        }
        return event.raw;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        failed = true;
        return event.raw;
      }
      // An error event in OpenAI's shape, or vLLM's `{"object": "error", ...}`: passed on, and nothing stored.
      if (!isObject(chunk) || (chunk.error !== undefined && chunk.error !== null) || chunk.object === 'error') {
        failed = true;
        return event.raw;
      }
      if (!plan.store) return event.raw;

      if (!sawChunk) {
        reservation = await ids.reserve(tenant.project, chunk.id);
        // The client may have gone away while the id was looked up: cancel() released nothing then.
        if (ended) reservation.release();
      }
      sawChunk = true;
      assembler.add(chunk);
      if (hideUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null) return '';
      const stripUsage = hideUsage && 'usage' in chunk && chunk.usage === null;
      const rewriteId = reservation!.replaced;
      if (!rewriteId && !stripUsage) return event.raw;
      const changed: Json = { ...chunk };
      if (rewriteId) changed.id = reservation!.id;
      if (stripUsage) delete changed.usage;
      return formatSseData(JSON.stringify(changed));
    }

    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const finish = (text: string) => {
            ended = true;
            release();
            if (text !== '') controller.enqueue(encoder.encode(text));
            controller.close();
          };
          // Loops until something is forwarded: a pull that enqueues nothing is not called again.
          for (;;) {
            let result: ReadResult<Uint8Array>;
            try {
              result = await readWithin(reader, idleMs);
            } catch (err) {
              if (ended) return;
              failed = true;
              const message =
                err instanceof UpstreamIdleTimeout ? err.message : 'The upstream provider closed the connection before the stream finished.';
              return finish(errorEvent(message));
            }
            // The client went away while we waited: cancel() has already cleaned up.
            if (ended) return;
            if (result.done) {
              // A last event the provider did not close with a blank line still counts, [DONE] included.
              let out = '';
              for (const event of parser.end()) out += await relay(event);
              // Only a stored stream needs [DONE]: an unstored one is relayed as the provider ended it.
              const unfinished = plan.store && !doneSeen && !failed;
              return finish(unfinished ? out + errorEvent('The upstream provider ended the stream before it finished.') : out);
            }
            let out = '';
            for (const event of parser.push(result.value)) {
              if (out !== '' && isDone(event)) {
                // The chunks before [DONE] go out before the write to the database, not after it.
                controller.enqueue(encoder.encode(out));
                out = '';
                await new Promise((resolve) => setImmediate(resolve));
                if (ended) return;
              }
              out += await relay(event);
            }
            if (doneSeen) release();
            if (out !== '') {
              controller.enqueue(encoder.encode(out));
              return;
            }
          }
        },
        async cancel(reason) {
          ended = true;
          release();
          await reader.cancel(reason).catch(() => {});
        },
      },
      { highWaterMark: 0 },
    );

    return c.body(stream, response.status as 200, headers);
  };
}
