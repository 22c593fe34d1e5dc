/**
 * What the service stores (and list/retrieve serve) for a completion the
 * upstream returned: every upstream field as it came, plus the request fields
 * a stored completion echoes, null when the request did not set them (SPEC.md).
 * `extra` overrides, e.g. the request's metadata or temperature.
 */
export function storedCompletion(
  upstreamCompletion: Record<string, unknown>,
  requestId: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...upstreamCompletion,
    request_id: requestId,
    seed: null,
    temperature: null,
    top_p: null,
    presence_penalty: null,
    frequency_penalty: null,
    tool_choice: null,
    tools: null,
    input_user: null,
    response_format: null,
    metadata: {},
    ...extra,
  };
}
