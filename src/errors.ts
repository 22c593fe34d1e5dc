/**
 * The one error class. Handlers throw it; `renderError` turns it into OpenAI's
 * exact error body, with all four fields present.
 */
/** The types of our own errors, as OpenAI types its: every client mistake (401 and 404 too) an `invalid_request_error`. */
export type ErrorType = 'invalid_request_error' | 'server_error';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    // A client's mistake (4xx) is answered, never debugged: capturing its stack was the costliest step of a
    // 404 or a 401 (await chains make V8 walk the async frames too). A server error keeps its stack for the log.
    const stackTraceLimit = Error.stackTraceLimit;
    if (status < 500) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'ApiError';
  }

  /**
   * False when asking again would not help and would cost: sent as `x-should-retry: false`, which the official SDKs
   * obey before their own rule (they retry every 5xx). Undefined: the SDKs' own rule.
   */
  shouldRetry: boolean | undefined = undefined;

  /** This error, marked as one that asking again would not mend (`shouldRetry`). */
  notRetryable(): this {
    this.shouldRetry = false;
    return this;
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
    return new ApiError(400, message, 'invalid_request_error', param, code);
  }

  static notFoundCompletion(id: string): ApiError {
    return new ApiError(404, `No chat completion found with id '${id}'.`, 'invalid_request_error');
  }

  static bodyTooLarge(limit: number): ApiError {
    return new ApiError(413, `Request body too large: the maximum is ${limit} bytes.`, 'invalid_request_error', null, 'request_too_large');
  }

  /**
   * The database cannot be reached (PostgreSQL restarting, network cut, pool exhausted): retrying later helps.
   * `cause`, the server's own reason with the password hidden, is for /healthz to name: a client sees only this.
   */
  static databaseUnavailable(cause?: Error): ApiError {
    const err = new ApiError(503, 'The database is unavailable; please retry your request shortly.', 'server_error');
    if (cause) err.cause = cause;
    return err;
  }

  static invalidUrl(method: string, path: string): ApiError {
    return new ApiError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error');
  }

  static invalidJson(): ApiError {
    return ApiError.badRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please visit https://help.openai.com.)",
    );
  }
}

/** OpenAI's wording for the JSON type of a value ("an integer", "a string", ...). */
export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}
