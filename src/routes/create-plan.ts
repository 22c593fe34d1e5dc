import type { Config } from '../config.ts';
import { ApiError, describeJsonType } from '../errors.ts';
import { type ExactIntegers, exactIntegersOf, withExactIntegers } from '../exact-integers.ts';
import { BodySplice } from '../body-splice.ts';
import { jsonMembers } from '../json-members.ts';
import { noteWrittenKeyOrders, parseMetadataInWrittenOrder } from '../key-order.ts';
import type { Json } from '../json.ts';
import type { Store } from '../store/index.ts';
import type { Upstream } from '../upstream/client.ts';
import { hasLoneSurrogate, type Metadata } from '../validation.ts';
import { checkStoredMessages, checkStoredModel, checkStoredStreamOptions } from './stored-request-checks.ts';

/** What a create needs, streamed or not. */
export interface CreateCompletionDeps {
  store: Store;
  upstream: Upstream;
  config: Pick<Config, 'storeDefault' | 'upstreamForwardStore' | 'bodyLimitBytes' | 'bodyLimitValues'>;
}

/** What the proxy decided about one create request before calling the provider. */
export interface CreatePlan {
  request: Record<string, unknown>;
  /** The request's JSON as the client wrote it (UTF-8, decoded when sent compressed): what goes upstream (see `upstreamBody`). */
  body: Uint8Array;
  /** Whether `store` and `metadata` stay here (not sent upstream unless UPSTREAM_FORWARD_STORE says so). */
  holdsOurs: boolean;
  /**
   * Forwarding (UPSTREAM_FORWARD_STORE), and stored here by STORE_DEFAULT though the request did not say:
   * the provider is told `store: true` as well, as it would be asked to keep what is kept here, and
   * OpenAI refuses `metadata` without it ("The 'metadata' parameter is only allowed when 'store' is enabled.").
   */
  forwardsDefaultStore: boolean;
  store: boolean;
  metadata: Metadata;
  /** The request's integers past 2^53 as the client wrote them, for what is written back from it (src/exact-integers.ts). */
  exactIntegers: ExactIntegers | undefined;
}

/**
 * The body sent upstream: the client's own bytes (its key order, numbers and spacing: see
 * json-members.ts), without `store` and `metadata` unless they are forwarded, with `store: true`
 * where STORE_DEFAULT stored a forwarded request that did not say, and with `streamOptions`, when
 * given, in place of the client's `stream_options`. A member put in place takes the first
 * occurrence's place (or goes last), and drops any repeat; members are joined by a bare comma in braces.
 * Slices of the client's bytes, never copied when large (see `BodySplice`): writing the body as a text again and
 * encoding that to UTF-8 took a 28 MB image through two more copies of the only thread.
 */
export function upstreamBody(plan: CreatePlan, streamOptions?: Json): Uint8Array | Uint8Array[] {
  const replacements = new Map<string, string>();
  if (plan.forwardsDefaultStore) replacements.set('store', '"store":true');
  if (streamOptions !== undefined) {
    replacements.set('stream_options', `"stream_options":${withExactIntegers(JSON.stringify(streamOptions), plan.exactIntegers)}`);
  }
  if (!plan.holdsOurs && replacements.size === 0) return plan.body;
  const placed = new Set<string>();
  const splice = new BodySplice(plan.body);
  splice.literal('{');
  let members = 0;
  for (const member of jsonMembers(plan.body)) {
    if (plan.holdsOurs && isOurs(member.key)) continue;
    const replacement = replacements.get(member.key);
    if (replacement === undefined) addMember(splice, member, members++);
    else if (!placed.has(member.key)) {
      addMember(splice, replacement, members++);
      placed.add(member.key);
    }
  }
  for (const [key, text] of replacements) if (!placed.has(key)) addMember(splice, text, members++);
  splice.literal('}');
  return splice.parts();
}

/**
 * Puts the body's member number `index` in, after a comma unless it is the first. A function of its own, not a
 * closure made per request: the bundle names each closure it makes (keepNames' __name, about a microsecond each).
 */
function addMember(splice: BodySplice, member: { start: number; end: number } | string, index: number): void {
  if (index > 0) splice.literal(',');
  if (typeof member === 'string') splice.text(member);
  else splice.range(member.start, member.end);
}

/** The request's fields that only say what to store: not sent upstream unless UPSTREAM_FORWARD_STORE says so. */
function isOurs(key: string): boolean {
  return key === 'store' || key === 'metadata';
}

/** Validates what OpenAI would refuse before any upstream call, so a bad request costs the provider nothing. */
export function planCreate(request: Record<string, unknown>, body: Uint8Array, config: CreateCompletionDeps['config']): CreatePlan {
  // Objects stored from the request (a tool's schema, the metadata map) keep the key order the client wrote.
  noteWrittenKeyOrders(request, body);
  const metadata = parseMetadataInWrittenOrder(request.metadata);
  const store = request.store;
  // `stream` decides how the answer is read: a provider that took `"true"` for true would
  // stream to a path expecting one JSON body, so a non-boolean is refused here, as OpenAI does.
  for (const name of ['store', 'stream'] as const) {
    const value = request[name];
    if (value !== undefined && value !== null && typeof value !== 'boolean') {
      throw ApiError.badRequest(
        `Invalid type for '${name}': expected a boolean, but got ${describeJsonType(value)} instead.`,
        name,
        'invalid_type',
      );
    }
  }
  if (request.stream_options !== undefined && request.stream_options !== null && request.stream !== true) {
    throw ApiError.badRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
      null,
    );
  }
  // An explicit `store: false` is never stored, whatever STORE_DEFAULT says.
  const storedByDefault = (store === undefined || store === null) && config.storeDefault;
  const stored = store === true || storedByDefault;
  // OpenAI refuses tags for a completion it will not keep: accepted, they would be lost without a
  // word, and the client would look for them in the list. An empty map tags nothing, so it passes.
  if (!stored && Object.keys(metadata).length > 0) {
    throw ApiError.badRequest("The 'metadata' parameter is only allowed when 'store' is enabled.", 'metadata', null);
  }
  // The model names the completion in the model filter and usage: it must be text both backends keep alike.
  if (stored && typeof request.model === 'string' && hasLoneSurrogate(request.model)) {
    throw ApiError.badRequest("Invalid 'model': a stored completion's model must be valid Unicode text.", 'model', 'invalid_value');
  }
  if (stored) {
    checkStoredModel(request.model);
    checkStoredMessages(request.messages);
    if (request.stream === true) checkStoredStreamOptions(request.stream_options);
  }
  return {
    request,
    body,
    holdsOurs: !config.upstreamForwardStore && ('store' in request || 'metadata' in request),
    forwardsDefaultStore: config.upstreamForwardStore && storedByDefault,
    store: stored,
    metadata,
    exactIntegers: exactIntegersOf(request),
  };
}
