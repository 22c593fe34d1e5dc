import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { createIdAllocator, type IdAllocator, saveUnderFreeId } from '../completion-ids.ts';
import type { Config } from '../config.ts';
import { ApiError, describeJsonType } from '../errors.ts';
import { readJsonObject } from '../http.ts';
import type { Store } from '../store/index.ts';
import { forwardResponseHeaders, type HeaderRecord, normalizeUpstreamError, readTextCapped, type Upstream } from '../upstream.ts';
import { notStoredError, parseCompletionText } from '../upstream-answer.ts';
import { parseMetadata, type Metadata } from '../validation.ts';
import { toCompletionRecord } from '../wire.ts';
import { createWriteBatcher, type WriteBatcher } from '../write-batcher.ts';
import { createStreamCompletion } from './stream-completion.ts';
import type { Json } from '../json.ts';

export interface CreateCompletionDeps {
  store: Store;
  upstream: Upstream;
  config: Pick<Config, 'storeDefault' | 'upstreamForwardStore' | 'bodyLimitBytes'>;
}

/** What the proxy decided about one create request before calling the provider. */
export interface CreatePlan {
  request: Record<string, unknown>;
  /** The body sent upstream: `store` and `metadata` taken out unless configured to forward them. */
  forwarded: Record<string, unknown>;
  store: boolean;
  metadata: Metadata;
}

/** Validates what OpenAI would refuse before any upstream call, so a bad request costs the provider nothing. */
export function planCreate(request: Record<string, unknown>, config: CreateCompletionDeps['config']): CreatePlan {
  const metadata = parseMetadata(request.metadata);
  const store = request.store;
  if (store !== undefined && store !== null && typeof store !== 'boolean') {
    throw ApiError.badRequest(
      `Invalid type for 'store': expected a boolean, but got ${describeJsonType(store)} instead.`,
      'store',
      'invalid_type',
    );
  }
  if (request.stream_options !== undefined && request.stream_options !== null && request.stream !== true) {
    throw ApiError.badRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
      null,
    );
  }
  const forwarded = { ...request };
  if (!config.upstreamForwardStore) {
    delete forwarded.store;
    delete forwarded.metadata;
  }
  // An explicit `store: false` is never stored, whatever STORE_DEFAULT says.
  return { request, forwarded, store: store === true || ((store === undefined || store === null) && config.storeDefault), metadata };
}

/** The upstream's error, status kept, body in OpenAI's error shape. */
export async function upstreamErrorResponse(c: Context<AppEnv>, response: Response, upstream: Upstream): Promise<Response> {
  return upstreamErrorFromText(c, response, await readErrorText(response, upstream));
}

/** An error body, read under the idle timeout and the size limit; one that breaks off or is too large leaves only the status to report. */
export async function readErrorText(response: Response, upstream: Pick<Upstream, 'timeoutMs' | 'responseLimitBytes'>): Promise<string> {
  return readTextCapped(response.body, upstream.responseLimitBytes, upstream.timeoutMs).catch(() => '');
}

/** The upstream's error status with its already-read body, in OpenAI's error shape. */
export function upstreamErrorFromText(c: Context<AppEnv>, response: Response, text: string): Response {
  const headers = forwardResponseHeaders(response.headers);
  headers['content-type'] = 'application/json';
  return c.body(normalizeUpstreamError(response.status, text), response.status as 400, headers);
}

/**
 * `POST /v1/chat/completions`, non-streaming: forwards to the provider and,
 * when asked to store, writes the completion before answering, so a 200 means
 * it is on disk.
 */
export async function createCompletion(
  c: Context<AppEnv>,
  deps: CreateCompletionDeps,
  { ids, writer }: { ids: IdAllocator; writer: WriteBatcher },
  plan: CreatePlan,
): Promise<Response> {
  const { tenant } = c.var;
  const response = await deps.upstream.send('/chat/completions', {
    method: 'POST',
    headers: c.req.raw.headers,
    authorization: tenant.upstreamAuthorization,
    body: JSON.stringify(plan.forwarded),
    signal: c.req.raw.signal,
  });
  if (!response.ok) return upstreamErrorResponse(c, response, deps.upstream);

  const headers = forwardResponseHeaders(response.headers);
  const text = await response.text();
  if (!plan.store) return c.body(text, response.status as 200, headers);
  const parsed = parseCompletionText(text);
  if ('problem' in parsed) throw notStoredError(parsed.problem, response.status);
  return storeAndAnswer(c, { ids, writer }, plan, { completion: parsed.completion, text, status: response.status, headers });
}

/**
 * Writes a provider's completion and answers the client with it, once it is
 * committed: a 200 means it is on disk. The client gets the provider's own
 * text unless the id had to change.
 */
export async function storeAndAnswer(
  c: Context<AppEnv>,
  { ids, writer }: { ids: IdAllocator; writer: WriteBatcher },
  plan: CreatePlan,
  answer: { completion: Json; text: string; status: number; headers: HeaderRecord },
): Promise<Response> {
  const { tenant, requestId } = c.var;
  const { completion } = answer;
  // The id stays held until its commit, so no create or stream in flight can take it meanwhile.
  const reservation = await ids.reserve(tenant.project, completion.id);
  let id: string;
  try {
    id = await saveUnderFreeId(reservation.id, (candidate) =>
      writer.save(
        tenant.project,
        toCompletionRecord({ request: plan.request, response: completion, id: candidate, requestId, metadata: plan.metadata, now: unixNow() }),
      ),
    );
  } finally {
    reservation.release();
  }
  const body = id !== completion.id ? JSON.stringify({ ...completion, id }) : answer.text;
  return c.body(body, answer.status as 200, answer.headers);
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** Reads and plans the request, then hands it to the streaming or the plain path. */
export function createCompletionHandler(deps: CreateCompletionDeps) {
  const ids = createIdAllocator(deps.store);
  const writer = createWriteBatcher(deps.store);
  const streamCompletion = createStreamCompletion(deps, { ids, writer });
  return async (c: Context<AppEnv>): Promise<Response> => {
    const request = await readJsonObject(c, deps.config.bodyLimitBytes);
    const plan = planCreate(request, deps.config);
    if (request.stream === true) return streamCompletion(c, plan);
    return createCompletion(c, deps, { ids, writer }, plan);
  };
}
