import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { completionToChunks, openSse } from './helpers/fake-sse.ts';
import { fakeCompletion, sendJson, type FakeUpstream } from './helpers/fake-upstream.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

const HEADERS_TIMEOUT_MS = 400;
const REQUEST_TIMEOUT_MS = 800;
const KEEP_ALIVE_TIMEOUT_MS = 400;

useServiceEachTest((started) => ({ upstream, service } = started), {
  HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
  REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves, with the milliseconds since the connection opened, when the server has closed it. */
  closed: Promise<number>;
}

async function open(): Promise<RawConnection> {
  const { port } = new URL(service.origin);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  const opened = performance.now();
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('utf8')));
  const closed = once(socket, 'close').then(() => performance.now() - opened);
  return { socket, received: () => received, closed };
}

/** Writes `pieces` one at a time, `gapMs` apart, until the connection closes or they run out. */
async function trickle(connection: RawConnection, pieces: string[], gapMs: number): Promise<void> {
  for (const piece of pieces) {
    if (connection.socket.destroyed || !connection.socket.writable) return;
    connection.socket.write(piece);
    await sleep(gapMs);
  }
}

function timeoutAnswer(received: string): { status: string; body: unknown } {
  const [head, body] = received.split('\r\n\r\n');
  return { status: head!.split('\r\n')[0]!, body: JSON.parse(body!) };
}

const requestTimeout = {
  status: 'HTTP/1.1 408 Request Timeout',
  body: { error: { message: 'The request was not received in time.', type: 'invalid_request_error', param: null, code: null } },
};

const authorized = `Authorization: Bearer sk-timeout-test\r\nHost: 127.0.0.1\r\n`;

describe('connections that hold the server without sending a request', () => {
  it('a connection that never sends a byte is answered 408 and closed after HEADERS_TIMEOUT_MS', async () => {
    const connection = await open();
    const elapsed = await connection.closed;
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + 1_500);
    expect(timeoutAnswer(connection.received())).toEqual(requestTimeout);
  });

  it('headers that trickle in, a line at a time, are cut after HEADERS_TIMEOUT_MS', async () => {
    const connection = await open();
    const lines = ['GET /v1/chat/completions HTTP/1.1\r\n', ...Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: ${i}\r\n`)];
    void trickle(connection, lines, 50);
    const elapsed = await connection.closed;
    expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + 1_500);
    expect(timeoutAnswer(connection.received())).toEqual(requestTimeout);
  });

  it('a body that trickles in is cut after REQUEST_TIMEOUT_MS, and nothing reaches the upstream', async () => {
    const connection = await open();
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(200) }], store: true });
    connection.socket.write(`POST /v1/chat/completions HTTP/1.1\r\n${authorized}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    void trickle(connection, body.split(''), 50);
    const elapsed = await connection.closed;
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + 1_500);
    expect(timeoutAnswer(connection.received())).toEqual(requestTimeout);
    expect(upstream.received).toHaveLength(0);
    // The server cut it, not the client: counted with the handler's status (its body could not be read), not as a client that left (499).
    const counted = async () =>
      (await (await service.request('/metrics', { auth: false })).text()).split('\n').filter((line) => line.startsWith('http_requests_total{method="POST"'));
    await expect.poll(counted).toEqual(['http_requests_total{method="POST",route="/v1/chat/completions",status="400"} 1']);
  });

  it('a client that leaves midway through sending its body is counted as one that left (499)', async () => {
    const connection = await open();
    connection.socket.write(`POST /v1/chat/completions HTTP/1.1\r\n${authorized}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":"gpt-4o",`);
    await sleep(200);
    connection.socket.destroy();
    const counted = async () =>
      (await (await service.request('/metrics', { auth: false })).text()).split('\n').filter((line) => line.startsWith('http_requests_total{method="POST"'));
    await expect.poll(counted).toEqual(['http_requests_total{method="POST",route="/v1/chat/completions",status="499"} 1']);
  });

  it('a kept-alive connection idle after its response is closed after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const connection = await open();
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // Waits for the answer rather than a fixed 100 ms, which a loaded machine (CI's files run two at once) can outlast.
    await expect.poll(() => connection.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const elapsed = await connection.closed;
    expect(elapsed).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS + 1_500);
    // Closed quietly: an idle kept-alive connection gets no 408.
    expect(connection.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });
});

describe('responses are never cut by the connection timeouts', () => {
  it('a stored stream that runs three times longer than every timeout reaches [DONE] and is stored', async () => {
    const completion = fakeCompletion({ model: 'gpt-4o', messages: [{ content: 'long' }] }, 'chatcmpl-long', 1_700_000_000);
    const chunks = completionToChunks(completion, { includeUsage: true, pieceLength: 1 });
    const gap = Math.ceil((3 * REQUEST_TIMEOUT_MS) / chunks.length);
    upstream.handler = async (_request, res) => {
      const sse = openSse(res);
      for (const chunk of chunks) {
        sse.send(chunk);
        await sleep(gap);
      }
      sse.done();
    };
    const started = performance.now();
    const stream = await service.client().chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'long' }],
      stream: true,
      store: true,
      stream_options: { include_usage: true },
    });
    const received: unknown[] = [];
    for await (const chunk of stream) received.push(chunk);
    expect(performance.now() - started).toBeGreaterThan(3 * REQUEST_TIMEOUT_MS);
    expect(received).toEqual(chunks);
    const stored = await service.client().chat.completions.retrieve('chatcmpl-long');
    expect(stored.choices[0]!.message.content).toBe('echo 0: long');
  });

  it('a non-streamed create whose provider takes longer than every timeout gets its 200', async () => {
    upstream.handler = async (request, res) => {
      await sleep(2 * REQUEST_TIMEOUT_MS);
      sendJson(res, 200, fakeCompletion(request.json!, 'chatcmpl-slow', 1_700_000_000));
    };
    const created = await service.client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'slow' }], store: true });
    expect(created.id).toBe('chatcmpl-slow');
  });
});
