import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postCompletion, storedCount } from './helpers/create-request.ts';
import { fakeCompletion, listenOnLoopback, sendJson } from './helpers/fake-upstream.ts';
import { type Service, startService } from './helpers/service.ts';

/**
 * HTTP/1.1's keep-alive race: the provider closes a connection it kept open, idle, just as the service sends the
 * next request on it. On a real network the close and the request cross on the wire; here the provider resets the
 * connection the moment a request arrives on it, unread and unanswered, which is what the service sees either way.
 */

interface Provider {
  url: string;
  /** Whether to reset the connection a request arrives on, by the request's place on its connection (1 for its first). */
  resetWhen: (placeOnConnection: number) => boolean;
  /** Requests answered, in order: their place on their connection. */
  answered: number[];
  /** Requests reset unanswered, in order: their place on their connection. */
  reset: number[];
  connections: number;
  /** The `Keep-Alive` header of its answers: a minute by default, so that a loaded machine's slow test still finds the connection kept. */
  keepAlive: string | undefined;
  /** When the service closed a connection (its FIN arrived), by performance.now(). */
  closedByService: number[];
  close(): Promise<void>;
}

async function startProvider(): Promise<Provider> {
  const served = new WeakMap<Socket, number>();
  const provider: Provider = { url: '', resetWhen: () => false, answered: [], reset: [], connections: 0, keepAlive: 'timeout=60', closedByService: [], close: async () => {} };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const place = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, place);
    if (provider.resetWhen(place)) {
      provider.reset.push(place);
      // Before its body is read: a large one is still being written when the reset comes back (EPIPE).
      req.socket.resetAndDestroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      provider.answered.push(place);
      // Answered without echoing the request: an 8 MB echo would cost the test seconds.
      const { model } = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      // Connection set, Node adds no `Keep-Alive: timeout=` of its own: the provider's is `keepAlive`, or none, as uvicorn's.
      res.setHeader('connection', 'keep-alive');
      if (provider.keepAlive !== undefined) res.setHeader('keep-alive', provider.keepAlive);
      sendJson(res, 200, fakeCompletion({ model, messages: [{ content: 'hi' }] }, `chatcmpl-${provider.answered.length}`, 1_700_000_000));
    });
  });
  server.on('connection', (socket: Socket) => {
    provider.connections++;
    socket.on('end', () => provider.closedByService.push(performance.now()));
  });
  // The provider would keep an idle connection a minute: whatever closes one sooner is the service.
  server.keepAliveTimeout = 60_000;
  const listening = await listenOnLoopback(server);
  provider.url = listening.url;
  provider.close = listening.close;
  return provider;
}

let provider: Provider;
let service: Service;

beforeEach(async () => {
  provider = await startProvider();
  service = await startService({ upstreamUrl: provider.url });
});

afterEach(async () => {
  await service.close();
  await provider.close();
});

const large = 'lorem ipsum '.repeat(350_000);

/** The 502 of a reset connection: ECONNRESET, or EPIPE when the reset came while the body was being written. */
const couldNotReach = { error: { message: expect.stringMatching(/^Could not reach the upstream provider \((ECONNRESET|EPIPE)\)\.$/), type: 'server_error', param: null, code: null } };

describe('a kept-alive connection the provider closes as a request is sent on it', () => {
  for (const [what, content, store] of [
    ['a large body (reset while it is written)', large, true],
    ['a small body', 'Hello', true],
  ] as const) {
    it(`sends the request again on a new connection: ${what}`, async () => {
      expect((await postCompletion(service, { store: true })).status).toBe(200);
      provider.resetWhen = (place) => place === 2;
      const res = await postCompletion(service, { store, messages: [{ role: 'user', content }] });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe('chatcmpl-2');
      expect(provider.reset).toEqual([2]);
      // The second answered on a connection of its own, its first request.
      expect(provider.answered).toEqual([1, 1]);
      expect(provider.connections).toBe(2);
      expect(storedCount(service)).toEqual({ n: store ? 2 : 1 });
    });
  }

  it('is not sent again when a new connection is reset: the provider is not racing its keep-alive', async () => {
    provider.resetWhen = () => true;
    const res = await postCompletion(service, { store: true, messages: [{ role: 'user', content: large }] });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(couldNotReach);
    expect(provider.reset).toEqual([1]);
    expect(provider.connections).toBe(1);
  });

  it('is sent again once only: the new connection reset as well is a 502', async () => {
    expect((await postCompletion(service, { store: true })).status).toBe(200);
    provider.resetWhen = (place) => place === 2 || provider.reset.length > 0;
    const res = await postCompletion(service, { store: true, messages: [{ role: 'user', content: large }] });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(couldNotReach);
    expect(provider.reset).toEqual([2, 1]);
    expect(provider.answered).toEqual([1]);
    expect(storedCount(service)).toEqual({ n: 1 });
  });
});

it('closes an idle connection after 4 s, before a provider that announces no keep-alive timeout would (uvicorn: 5 s)', async () => {
  provider.keepAlive = undefined;
  expect((await postCompletion(service, { store: true })).status).toBe(200);
  const answered = performance.now();
  await expect.poll(() => provider.closedByService.length, { timeout: 10_000, interval: 50 }).toBe(1);
  const idle = provider.closedByService[0]! - answered;
  expect(idle).toBeGreaterThan(3_500);
  // Below the 10 s it was; a margin over the 4 s for a loaded machine's late timers.
  expect(idle).toBeLessThan(8_000);
});
