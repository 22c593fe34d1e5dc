import type { Service } from './service.ts';

/** `POST /v1/chat/completions` as raw HTTP (statuses and bodies the SDK would hide), model and one message filled in. */
export function postCompletion(service: Service, body: Record<string, unknown>): Promise<Response> {
  return service.request('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }], ...body }),
  });
}

/** How many completions the service's database holds, across projects. */
export function storedCount(service: Service): unknown {
  return service.db.prepare('SELECT count(*) AS n FROM completions').get();
}

/** The 502 body for a provider's answer over UPSTREAM_RESPONSE_LIMIT_BYTES = `limit`. */
export function tooLargeBody(limit: number) {
  return {
    error: {
      message: `The upstream provider's answer is larger than UPSTREAM_RESPONSE_LIMIT_BYTES (${limit} bytes); it was not read further, and nothing was stored.`,
      type: 'server_error',
      param: null,
      code: null,
    },
  };
}
