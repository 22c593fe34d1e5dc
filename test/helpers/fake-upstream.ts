import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake provider received it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown> | undefined;
}

export type FakeHandler = (request: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A fake OpenAI-compatible provider: a real HTTP server on an ephemeral port.
 * By default it answers `POST /chat/completions` with a `chat.completion` that
 * echoes the last message; tests replace `handler` to script anything else.
 */
export interface FakeUpstream {
  url: string;
  received: ReceivedRequest[];
  handler: FakeHandler;
  /** The `created` the default handler puts on its completions (unix seconds). */
  created: number;
  /** Ids the default handler hands out next, in order; after these, `chatcmpl-fake-N`. */
  nextIds: string[];
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_upstream' });
  res.end(text);
}

/** The provider's completion for a request: model answered as `<requested>-2024-01-01`. */
export function fakeCompletion(request: Record<string, unknown>, id: string, created: number): Record<string, unknown> {
  const messages = (request.messages as { content?: unknown }[] | undefined) ?? [];
  const last = messages.at(-1)?.content;
  const n = typeof request.n === 'number' ? request.n : 1;
  return {
    id,
    object: 'chat.completion',
    created,
    model: `${String(request.model)}-2024-01-01`,
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content: `echo ${index}: ${typeof last === 'string' ? last : JSON.stringify(last)}`, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    })),
    usage: {
      prompt_tokens: 9,
      completion_tokens: 12,
      total_tokens: 21,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  let counter = 0;
  const fake: FakeUpstream = {
    url: '',
    received: [],
    created: 1_700_000_000,
    nextIds: [],
    handler: (request, res) => {
      if (request.method === 'POST' && request.path.split('?')[0] === '/v1/chat/completions' && request.json) {
        const id = fake.nextIds.shift() ?? `chatcmpl-fake-${++counter}`;
        sendJson(res, 200, fakeCompletion(request.json, id, fake.created));
        return;
      }
      sendJson(res, 404, { error: { message: `fake upstream: no route ${request.method} ${request.path}`, type: 'invalid_request_error', param: null, code: null } });
    },
    close: async () => listening.close(),
  };

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      // The proxy cut its request midway (its own client went away): there is no one to answer.
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
    fake.received.push(request);
    try {
      await fake.handler(request, res);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } });
      else res.destroy();
    }
  });
  const listening = await listenOnLoopback(server);
  fake.url = listening.url;
  return fake;
}

/**
 * Starts a provider-side server on an ephemeral loopback port. `url` is its
 * OpenAI-style base URL (ending in /v1); `close` also ends kept-alive connections.
 */
/**
 * Makes the upstream take the next request and never answer it, for the cases
 * where the client goes away first: `arrived` settles once the request is
 * there, `closedUnanswered` once its connection closes (true when no answer
 * was written: the proxy closed the call).
 */
export function holdNextCall(upstream: FakeUpstream): { arrived: Promise<void>; closedUnanswered: Promise<boolean> } {
  let received!: () => void;
  let closed!: (unanswered: boolean) => void;
  const arrived = new Promise<void>((resolve) => (received = resolve));
  const closedUnanswered = new Promise<boolean>((resolve) => (closed = resolve));
  upstream.handler = (_request, res) => {
    res.on('close', () => closed(!res.writableFinished));
    received();
  };
  return { arrived, closedUnanswered };
}

/**
 * A provider URL where the connection is refused: port 1 is privileged and nothing here listens on it. A port
 * freed a moment before was not enough: another test file's server could take it in between (seen in CI).
 */
export const UNREACHABLE_UPSTREAM_URL = 'http://127.0.0.1:1/v1';

export async function listenOnLoopback(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
