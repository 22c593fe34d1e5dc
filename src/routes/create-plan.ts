import type { Config } from '../config.ts';
import { ApiError, describeJsonType } from '../errors.ts';
import { type ExactIntegers, exactIntegersOf, withExactIntegers } from '../exact-integers.ts';
import type { Store } from '../store/index.ts';
import type { Upstream } from '../upstream.ts';
import { parseMetadata, type Metadata } from '../validation.ts';
import { copyFields } from '../wire.ts';

/** What a create needs, streamed or not. */
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
  /** The request's integers past 2^53 as the client wrote them, for what is written back from it (src/exact-integers.ts). */
  exactIntegers: ExactIntegers | undefined;
}

/** A body to send upstream, as JSON text: the client's own integers, not their rounded doubles. */
export function upstreamBodyText(plan: CreatePlan, body: Record<string, unknown>): string {
  return withExactIntegers(JSON.stringify(body), plan.exactIntegers);
}

/** The request's fields that only say what to store: not sent upstream unless UPSTREAM_FORWARD_STORE says so. */
function isOurs(key: string): boolean {
  return key === 'store' || key === 'metadata';
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
  // Copied field by field rather than spread and `delete`d: deleting turns the copy into a slow dictionary object.
  const forwarded = copyFields({}, request, config.upstreamForwardStore ? undefined : isOurs);
  // An explicit `store: false` is never stored, whatever STORE_DEFAULT says.
  return {
    request,
    forwarded,
    store: store === true || ((store === undefined || store === null) && config.storeDefault),
    metadata,
    exactIntegers: exactIntegersOf(request),
  };
}
