import type { Config } from '../config.ts';
import { ApiError, describeJsonType } from '../errors.ts';
import { type ExactIntegers, exactIntegersOf, withExactIntegers } from '../exact-integers.ts';
import { jsonMembers } from '../json-members.ts';
import type { Json } from '../json.ts';
import type { Store } from '../store/index.ts';
import type { Upstream } from '../upstream.ts';
import { parseMetadata, type Metadata } from '../validation.ts';

/** What a create needs, streamed or not. */
export interface CreateCompletionDeps {
  store: Store;
  upstream: Upstream;
  config: Pick<Config, 'storeDefault' | 'upstreamForwardStore' | 'bodyLimitBytes'>;
}

/** What the proxy decided about one create request before calling the provider. */
export interface CreatePlan {
  request: Record<string, unknown>;
  /** The request's JSON text as the client wrote it: what goes upstream (see `upstreamBodyText`). */
  text: string;
  /** Whether `store` and `metadata` stay here (not sent upstream unless UPSTREAM_FORWARD_STORE says so). */
  holdsOurs: boolean;
  store: boolean;
  metadata: Metadata;
  /** The request's integers past 2^53 as the client wrote them, for what is written back from it (src/exact-integers.ts). */
  exactIntegers: ExactIntegers | undefined;
}

/**
 * The body sent upstream: the client's own text (its key order, numbers and spacing: see
 * json-members.ts), without `store` and `metadata` unless they are forwarded, and with
 * `streamOptions`, when given, in place of the client's `stream_options` (at its place, else last).
 */
export function upstreamBodyText(plan: CreatePlan, streamOptions?: Json): string {
  if (!plan.holdsOurs && streamOptions === undefined) return plan.text;
  const optionsText = streamOptions && `"stream_options":${withExactIntegers(JSON.stringify(streamOptions), plan.exactIntegers)}`;
  let optionsPlaced = false;
  const parts: string[] = [];
  for (const member of jsonMembers(plan.text)) {
    if (plan.holdsOurs && isOurs(member.key)) continue;
    if (optionsText !== undefined && member.key === 'stream_options') {
      if (!optionsPlaced) parts.push(optionsText);
      optionsPlaced = true;
      continue;
    }
    parts.push(member.text);
  }
  if (optionsText !== undefined && !optionsPlaced) parts.push(optionsText);
  return `{${parts.join(',')}}`;
}

/** The request's fields that only say what to store: not sent upstream unless UPSTREAM_FORWARD_STORE says so. */
function isOurs(key: string): boolean {
  return key === 'store' || key === 'metadata';
}

/** Validates what OpenAI would refuse before any upstream call, so a bad request costs the provider nothing. */
export function planCreate(request: Record<string, unknown>, text: string, config: CreateCompletionDeps['config']): CreatePlan {
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
  // An explicit `store: false` is never stored, whatever STORE_DEFAULT says.
  return {
    request,
    text,
    holdsOurs: !config.upstreamForwardStore && ('store' in request || 'metadata' in request),
    store: store === true || ((store === undefined || store === null) && config.storeDefault),
    metadata,
    exactIntegers: exactIntegersOf(request),
  };
}
