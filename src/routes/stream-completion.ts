import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { type IdReservation, saveUnderFreeId } from '../completion-ids.ts';
import { ApiError, type ErrorBody } from '../errors.ts';
import { type ExactIntegers, findUnsafeIntegers, mergeExactIntegers, withExactIntegers } from '../exact-integers.ts';
import { jsonTextInWrittenOrder, noteWrittenKeyOrders } from '../key-order.ts';
import { createCompletionAssembler } from '../streaming/assemble.ts';
import { createSseParser, formatSseData, type SseEvent, type SseParser, withData } from '../streaming/sse.ts';
import { answerTooLarge, type ReadResult, readTextCapped, readWithin, relayedBody, UpstreamIdleTimeout } from '../upstream/body-reading.ts';
import { clientGoneWatch, clientHeadersOf, clientQueryOf } from '../upstream/client-request.ts';
import { normalizeUpstreamError } from '../upstream/failures.ts';
import { forwardResponseHeaders } from '../upstream/headers.ts';
import { notStoredError, parseCompletionText, problemWithCompletion, quote } from '../upstream-answer.ts';
import { isObject, type Json } from '../json.ts';
import { type CreateCompletionDeps, type CreatePlan, upstreamBody } from './create-plan.ts';
import { type CompletionWrites, storeAndAnswer, storedRecord } from './store-and-answer.ts';
import { readErrorText, upstreamErrorFromText, upstreamErrorResponse } from './upstream-errors.ts';

/**
 * The error event of a stored stream whose id could not be held or whose completion could not be written: the
 * service's own error says why (the database unavailable: the 503's words, so the client knows to retry).
 */
function notStored(err: unknown): string {
  return errorEvent(err instanceof ApiError ? err.message : 'The completion could not be stored.');
}

function errorEvent(message: string): string {
  const body: ErrorBody = { error: { message, type: 'server_error', param: null, code: null } };
  return formatSseData(JSON.stringify(body));
}

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

/**
 * What a stored stream's event holds: a chunk to relay, the provider's own error (relayed), or
 * something else the provider sent instead and our error event that tells the client.
 */
type ReadEvent = { chunk: Json; reshaped?: boolean } | { problem: string; providerError: true } | { problem: string; errorEvent: string };

/**
 * Reads one event of a stored stream (one with data). A provider's own error (OpenAI's shape, an
 * `event: error` whatever its data, or vLLM's `{"object": "error"}`, each put into OpenAI's shape, so
 * the SDKs raise it) is relayed as an error; anything else that is no chunk gets our own error event.
 */
function readEvent(event: SseEvent): ReadEvent {
  // The SDKs raise an `event: error` as the provider's error, whatever it holds: so does a stored stream.
  if (event.type === 'error') return { problem: 'an error event', providerError: true };
  const data = event.data!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    const problem = `an event that is not JSON: ${quote(data)}`;
    return { problem, errorEvent: errorEvent(notStoredMessage(problem)) };
  }
  // The usage-only chunk some providers send without `choices`, or with null (DeepSeek and OpenRouter have): read as
  // OpenAI's `choices: []`. Refused, it failed every stored stream there, since the proxy asks for usage itself.
  // Relayed so reshaped (`reshaped`): the SDK iterates a chunk's choices, and would raise on this one.
  const reshaped = isObject(parsed) && parsed.choices == null && isObject(parsed.usage) && parsed.error == null;
  if (reshaped) (parsed as Json).choices = [];
  const problem = problemWithCompletion(parsed, 'chat.completion.chunk');
  if (problem === undefined) {
    // What the completion keeps of a chunk as it came (vLLM's prompt_logprobs, keyed by token ids) keeps the order written.
    noteWrittenKeyOrders(parsed, data);
    return { chunk: parsed as Json, reshaped };
  }
  const isError = isObject(parsed) && ((parsed.error !== undefined && parsed.error !== null) || parsed.object === 'error');
  return isError ? { problem, providerError: true } : { problem, errorEvent: errorEvent(notStoredMessage(problem)) };
}

/**
 * Follows which choices a stream has begun and finished (a `finish_reason` that is a non-empty string), to
 * tell the chunk that finishes the last of them: where a provider that sends usage unasked puts it.
 */
function createChoiceTracker() {
  const begun = new Set<unknown>();
  const finished = new Set<unknown>();
  return {
    /** Takes in a chunk's choices; true when this chunk finishes a choice and, with it, every choice begun. */
    finishesAll(chunk: Json): boolean {
      if (!Array.isArray(chunk.choices) || chunk.choices.length === 0) return false;
      const before = finished.size;
      for (const choice of chunk.choices) {
        if (!isObject(choice)) continue;
        begun.add(choice.index);
        if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') finished.add(choice.index);
      }
      return finished.size > before && finished.size === begun.size;
    },
  };
}

/** A provider's error event as the client gets it: byte for byte when in OpenAI's shape, else put into it. */
function relayedError(data: string, raw: string): string {
  // An `event: error` with nothing in it: said so, not as a status the provider (which answered 200) never gave.
  if (data.trim() === '') return errorEvent('The upstream provider sent an error event without a message.');
  const normalized = formatSseData(normalizeUpstreamError(502, data));
  return normalized === formatSseData(data) ? raw : normalized;
}

/** How much a provider may still send after `[DONE]` before its connection is closed rather than read to its end. */
const AFTER_DONE_LIMIT_BYTES = 64 * 1024;

/**
 * Reads what a provider sends after `[DONE]`, in the background, to its end: usually nothing is
 * left, and a response read to its end lets its connection be reused. One that lingers past the
 * idle timeout, or goes on sending, is closed.
 */
async function drainAfterDone(reader: ReadableStreamDefaultReader<Uint8Array>, idleMs: number): Promise<void> {
  let received = 0;
  try {
    for (;;) {
      const result = await readWithin(reader, idleMs);
      if (result.done) return;
      if ((received += result.value.byteLength) > AFTER_DONE_LIMIT_BYTES) break;
    }
  } catch {
    // Timed out (readWithin has cancelled it) or dropped: nothing more to read either way.
  }
  reader.cancel().catch(() => {});
}

/** What a failed read from the provider becomes while the client has no answer yet. */
function readFailure(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof UpstreamIdleTimeout) return new ApiError(504, err.message, 'server_error');
  return new ApiError(502, 'The upstream provider closed the connection before its response was complete.', 'server_error');
}

function notStoredMessage(problem: string): string {
  return `The upstream provider sent ${problem} instead of a chat completion chunk; nothing was stored.`;
}

const NO_CHUNK_MESSAGE = 'The upstream provider ended the stream without sending a chunk; nothing was stored.';

/**
 * How long a stored stream's answer waits for the provider's first event. Long enough for a provider
 * that answers at once to have its empty or broken stream turned into a 502; short enough that a
 * client (or a load balancer) waiting on a slow first token sees the answer begin, as it would from
 * the provider, rather than time out waiting for headers (and retry, generating again).
 */
export const FIRST_EVENT_WAIT_MS = 1000;

/**
 * What a stored stream begins with: its first chunk, the provider's own error event (to relay as the
 * stream's whole answer), or only keep-alives or silence so far (`begun`: the answer starts now, the
 * first chunk is looked at as the stream goes; `unread` is a read still under way, to be taken next).
 */
type FirstEvents =
  | { events: SseEvent[]; firstChunk: Json }
  | { events: SseEvent[]; providerError: true }
  | { events: SseEvent[]; begun: true; unread: Promise<ReadResult<Uint8Array>> | undefined };

/**
 * A stored stream's events up to its first data event, read before anything
 * is answered: a provider whose 200 carries no chunk (an empty stream, an
 * event that is no chunk) gets the client a 502 rather than a 200 that stores
 * nothing. The provider's own error event is the exception: the client gets
 * the 200 and the error event it would have had from the provider (its type
 * and code intact, raised by the SDKs, not retried as a 502 would be).
 * A comment (a keep-alive) before the first data event, or a provider silent
 * for FIRST_EVENT_WAIT_MS, begins the answer instead: the provider is
 * working, and its keep-alives are relayed as they come.
 */
async function readFirstEvents(
  read: () => Promise<ReadResult<Uint8Array>>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  parser: SseParser,
): Promise<FirstEvents> {
  const events: SseEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<'silent'>((resolve) => {
    timer = setTimeout(() => resolve('silent'), FIRST_EVENT_WAIT_MS);
  });
  try {
    for (;;) {
      const next = read();
      let result: ReadResult<Uint8Array> | 'silent';
      try {
        result = await Promise.race([next, silent]);
      } catch (err) {
        throw readFailure(err);
      }
      if (result === 'silent') return { events, begun: true, unread: next };
      events.push(...(result.done ? parser.end() : parser.push(result.value)));
      const position = events.findIndex((event) => event.data !== undefined || event.type === 'error');
      const first = position < 0 ? undefined : events[position];
      if (first !== undefined && first.data?.trim() !== '[DONE]') {
        const read = readEvent(first);
        if ('chunk' in read) return { events, firstChunk: read.chunk };
        reader.cancel().catch(() => {});
        if ('providerError' in read) return { events: events.slice(0, position + 1), providerError: true };
        // Not retried (x-should-retry: false), as a plain create's answer that is no completion: the provider would
        // most likely answer the same way, a generation paid for each time and nothing stored.
        throw new ApiError(502, notStoredMessage(read.problem), 'server_error').notRetryable();
      }
      if (first !== undefined || result.done) {
        reader.cancel().catch(() => {});
        throw new ApiError(502, NO_CHUNK_MESSAGE, 'server_error');
      }
      if (events.length > 0) return { events, begun: true, unread: undefined };
    }
  } finally {
    clearTimeout(timer);
  }
}

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
 */
export function createStreamCompletion(deps: CreateCompletionDeps, writes: CompletionWrites) {
  const { ids, writer, saveHeld } = writes;
  return async function streamCompletion(c: Context<AppEnv>, plan: CreatePlan): Promise<Response> {
    const tenant = c.get('tenant');
    const planned = planUpstreamBody(plan);
    let { hideUsage } = planned;
    const send = (streamOptions: Json | undefined) =>
      deps.upstream.send(`/chat/completions${clientQueryOf(c.req.raw, c.env)}`, {
        method: 'POST',
        headers: clientHeadersOf(c.req.raw, c.env),
        authorization: tenant.upstreamAuthorization,
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
      if (!refusesOptions) return upstreamErrorFromText(c, response, text);
      response = await send(undefined);
      hideUsage = false;
    }
    if (!response.ok) return upstreamErrorResponse(c, response, deps.upstream);
    const headers = forwardResponseHeaders(response.headers);
    const idleMs = deps.upstream.timeoutMs;
    const limit = deps.upstream.responseLimitBytes;
    // A provider that ignored `stream: true` and answered one JSON document: handed on as it came, not read
    // as events; stored like a plain call's answer when asked to, and a 502 when it is no completion.
    if ((response.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json')) {
      if (!plan.store) return c.body(response.body ? relayedBody(c, response.body, idleMs) : '', response.status as 200, headers);
      const text = await readTextCapped(response.body, limit, idleMs).catch((err) => {
        throw readFailure(err);
      });
      const parsed = parseCompletionText(text);
      if ('problem' in parsed) throw notStoredError(parsed.problem, response.status);
      return storeAndAnswer(c, writes, plan, { completion: parsed.completion, text, status: response.status, headers });
    }

    const reader = (response.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() })).getReader();
    const parser = createSseParser();
    const assembler = createCompletionAssembler();
    const encoder = new TextEncoder();
    let received = 0;
    /** One read from the provider. A stored stream is assembled in memory, so it may not grow past the response limit. */
    const read = async (): Promise<ReadResult<Uint8Array>> => {
      const result = await readWithin(reader, idleMs);
      if (!result.done && plan.store && (received += result.value.byteLength) > limit) {
        reader.cancel().catch(() => {});
        throw answerTooLarge(limit);
      }
      return result;
    };
    let pending: SseEvent[] = [];
    /** A read the first-event wait stopped waiting for: the next one the stream takes. */
    let unread: Promise<ReadResult<Uint8Array>> | undefined;
    const nextRead = (): Promise<ReadResult<Uint8Array>> => {
      const taken = unread ?? read();
      unread = undefined;
      return taken;
    };
    let reservation: IdReservation | undefined;
    if (plan.store) {
      const first = await readFirstEvents(read, reader, parser);
      if ('providerError' in first) {
        // The events before the error as they came (comments, keep-alives); the error, data or none, in OpenAI's shape.
        const relayed = first.events.map((event) => (event.data === undefined && event.type !== 'error' ? event.raw : relayedError(event.data ?? '', event.raw))).join('');
        return c.body(relayed, response.status as 200, headers);
      }
      pending = first.events;
      if ('begun' in first) {
        unread = first.unread;
      } else {
        // The id is decided before the client has an answer: a database that cannot be asked then is
        // the client's 503 (which the SDKs retry), not a 200 whose stream breaks off before its first byte.
        try {
          reservation = await ids.reserve(tenant.project, first.firstChunk.id);
        } catch (err) {
          reader.cancel().catch(() => {});
          throw err;
        }
      }
    }
    let sawChunk = false;
    /** A stored stream that must end after what relay() returned: the provider sent an error or no chunk, or the write failed. */
    let stop = false;
    let doneSeen = false;
    const choices = createChoiceTracker();
    /** Whether the usage a provider sent unasked has reached the client (once is what it would have had). */
    let usageShown = false;
    let ended = false;
    /** The chunks' integers past 2^53 as the provider wrote them, for the stored completion. */
    let answerIntegers: ExactIntegers | undefined;

    const release = () => reservation?.release();

    /** Writes the assembled completion; undefined once written, else the error event that ends the stream instead. */
    async function save(): Promise<string | undefined> {
      if (!sawChunk || reservation === undefined) return undefined;
      try {
        // Held since the first chunk, by this process and, on PostgreSQL, by the database against other instances.
        // Taken all the same (another process on a SQLite file, a race of one statement on PostgreSQL): stored under
        // a fresh id the client does not learn (its chunks are gone), never overwriting.
        const held = reservation;
        const id = await saveUnderFreeId(held.id, (candidate) => {
          const record = storedRecord(c, plan, assembler.result(candidate), candidate, answerIntegers);
          return candidate === held.id && held.heldInDatabase ? saveHeld(tenant.project, record) : writer.save(tenant.project, record);
        });
        ids.remember(tenant.project, id);
        return undefined;
      } catch (err) {
        return notStored(err);
      }
    }

    const isDone = (event: SseEvent) => !doneSeen && event.data?.trim() === '[DONE]';

    /** What to forward for one upstream event ('' to forward nothing). An unstored stream is relayed untouched. */
    async function relay(event: SseEvent): Promise<string> {
      // An `event: error` without data is still the provider's error (the SDKs raise it): not a keep-alive.
      if (doneSeen || (event.data === undefined && event.type !== 'error')) return event.raw;
      if (isDone(event)) {
        doneSeen = true;
        if (plan.store && !sawChunk) {
          stop = true;
          return errorEvent(NO_CHUNK_MESSAGE);
        }
        const unsaved = plan.store ? await save() : undefined;
        if (unsaved !== undefined) {
          stop = true;
          return unsaved;
        }
        // Stored, so the client must take it for the end: `data:  [DONE] ` (spaces) ended the stream here, but the
        // SDKs read only `[DONE]` itself as the end and would raise on it, and retry a stream that was stored.
        return plan.store && event.data !== '[DONE]' ? 'data: [DONE]\n\n' : event.raw;
      }
      if (!plan.store) return event.raw;
      const read = readEvent(event);
      if (!('chunk' in read)) {
        stop = true;
        return 'providerError' in read ? relayedError(event.data ?? '', event.raw) : read.errorEvent;
      }
      const { chunk } = read;
      if (reservation === undefined) {
        // A stream whose answer began before its first chunk (keep-alives, a slow first token) decides its id here.
        try {
          reservation = await ids.reserve(tenant.project, chunk.id);
        } catch (err) {
          stop = true;
          return notStored(err);
        }
        // The client went away meanwhile: cancel() found nothing to let go of yet.
        if (ended) release();
      }
      sawChunk = true;
      assembler.add(chunk);
      // A chunk was read from its data.
      const chunkIntegers = findUnsafeIntegers(event.data!);
      answerIntegers = mergeExactIntegers(answerIntegers, chunkIntegers);
      if (hideUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null) return '';
      // The client asked for no usage: `usage: null` on every chunk and running usage (some providers send it on
      // every chunk once asked) go. Usage on the chunk that finishes the last choice stays, once: some providers
      // put it there whether asked or not, and the client would have had it from them.
      const finishing = choices.finishesAll(chunk);
      const keepUsage = chunk.usage != null && finishing && !usageShown;
      if (keepUsage) usageShown = true;
      const stripUsage = hideUsage && 'usage' in chunk && !keepUsage;
      // A fresh id, or a provider whose chunks carry different ids: every chunk carries the id it is stored under.
      const rewriteId = reservation!.replaced || chunk.id !== reservation!.id;
      if (!rewriteId && !stripUsage && !read.reshaped) return event.raw;
      const changed: Json = { ...chunk };
      if (rewriteId) changed.id = reservation!.id;
      if (stripUsage) delete changed.usage;
      return withData(event.raw, withExactIntegers(jsonTextInWrittenOrder(changed), chunkIntegers));
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
            let events: SseEvent[];
            if (pending.length > 0) {
              events = pending;
              pending = [];
            } else {
              let result: ReadResult<Uint8Array>;
              try {
                result = await nextRead();
              } catch (err) {
                if (ended) return;
                const message =
                  err instanceof UpstreamIdleTimeout || err instanceof ApiError
                    ? err.message
                    : 'The upstream provider closed the connection before the stream finished.';
                return finish(errorEvent(message));
              }
              // The client went away while we waited: cancel() has already cleaned up.
              if (ended) return;
              if (result.done) {
                // A last event the provider did not close with a blank line still counts, [DONE] included.
                let out = '';
                for (const event of parser.end()) {
                  out += await relay(event);
                  if (stop) return finish(out);
                }
                // Only a stored stream needs [DONE]: an unstored one is relayed as the provider ended it.
                const unfinished = plan.store && !doneSeen;
                return finish(unfinished ? out + errorEvent('The upstream provider ended the stream before it finished.') : out);
              }
              events = parser.push(result.value);
              // Even an unstored stream holds an event until it is complete: one that never ends is cut at the limit.
              if (parser.pendingLength() > limit) {
                reader.cancel().catch(() => {});
                return finish(errorEvent(answerTooLarge(limit).message));
              }
            }
            let out = '';
            for (const event of events) {
              if (plan.store && out !== '' && isDone(event)) {
                // The chunks before [DONE] go out before the write to the database, not after it.
                controller.enqueue(encoder.encode(out));
                out = '';
                await new Promise((resolve) => setImmediate(resolve));
                if (ended) return;
              }
              out += await relay(event);
              if (stop) {
                // Nothing more of this stream can be stored: the provider's connection is closed now.
                reader.cancel().catch(() => {});
                return finish(out);
              }
              if (doneSeen) {
                // [DONE] ends the client's stream: a provider that holds its connection open after it
                // must not keep the client waiting, nor earn it an idle-timeout error after a [DONE].
                void drainAfterDone(reader, idleMs);
                return finish(out);
              }
            }
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
