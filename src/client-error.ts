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
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset or a timed-out socket has no one left to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
  const message = tooLarge
    ? 'The request line and headers are larger than this server accepts.'
    : 'We could not parse your HTTP request.';
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error').toBody());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\nx-request-id: ${newRequestId()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
