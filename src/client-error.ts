import type { Duplex } from 'node:stream';
import { ApiError } from './errors.ts';
import { newRequestId } from './wire.ts';

/**
 * Node's answer to a request its HTTP parser refuses (a Content-Length that is
 * not a number, bytes after a body shorter than its Content-Length claimed,
 * headers over the size limit) is a bare `400` with no body. This writes the
 * same status in OpenAI's error shape, so every answer a client can read has it.
 * Install with `server.on('clientError', answerClientError)`.
 */
/** Status, reason phrase and message for what Node's parser or its connection timers refused. */
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'The request line and headers are larger than this server accepts.'],
  // HEADERS_TIMEOUT_MS or REQUEST_TIMEOUT_MS ran out before the whole request arrived.
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request was not received in time.'],
  default: [400, 'Bad Request', 'We could not parse your HTTP request.'],
};

export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset or a timed-out socket has no one left to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = CLIENT_ERRORS[err.code ?? ''] ?? CLIENT_ERRORS.default!;
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error').toBody());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\nx-request-id: ${newRequestId()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
