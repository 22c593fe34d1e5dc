import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

/** One raw HTTP/1.1 request, as a pipelining client writes it. */
function rawRequest(method: string, path: string, body?: unknown, last = false): string {
  const text = body === undefined ? '' : JSON.stringify(body);
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${DEFAULT_KEY}`];
  if (body !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`);
  if (last) head.push('Connection: close');
  return `${head.join('\r\n')}\r\n\r\n${text}`;
}

/** Writes every request at once on one connection (no waiting for answers) and returns the answers' JSON bodies, in order. */
async function pipelined(requests: string[]): Promise<unknown[]> {
  const url = new URL(service.origin);
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write(requests.join(''));
  await new Promise((resolve) => socket.once('close', resolve));
  // Each answer: its head, then its JSON body (content-length framed; the service answers these with whole bodies).
  const bodies: unknown[] = [];
  let rest = received;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const length = Number(/content-length: (\d+)/i.exec(rest.slice(0, headEnd))![1]);
    const start = headEnd + 4;
    const body = Buffer.from(rest.slice(start)).subarray(0, length).toString();
    bodies.push(JSON.parse(body));
    rest = rest.slice(start + body.length);
  }
  return bodies;
}

describe('requests pipelined on one connection', () => {
  it('are answered in order, each read seeing the writes sent before it', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    for (let round = 0; round < 5; round++) {
      upstream.created = 1_700_000_000 + round;
      const [created, listed] = (await pipelined([
        rawRequest('POST', '/v1/chat/completions', { model: 'gpt-4o', messages, store: true }),
        rawRequest('GET', '/v1/chat/completions?order=desc&limit=1', undefined, true),
      ])) as [{ id: string }, { data: { id: string }[] }];
      expect(listed.data.map((c) => c.id)).toEqual([created.id]);

      const [updated, retrieved, deleted, gone] = (await pipelined([
        rawRequest('POST', `/v1/chat/completions/${created.id}`, { metadata: { round: String(round) } }),
        rawRequest('GET', `/v1/chat/completions/${created.id}`),
        rawRequest('DELETE', `/v1/chat/completions/${created.id}`),
        rawRequest('GET', `/v1/chat/completions/${created.id}`, undefined, true),
      ])) as [{ metadata: unknown }, { metadata: unknown }, { deleted: boolean }, { error: { message: string } }];
      expect([updated.metadata, retrieved.metadata, deleted.deleted]).toEqual([{ round: String(round) }, { round: String(round) }, true]);
      expect(gone.error.message).toBe(`No chat completion found with id '${created.id}'.`);
    }
  });
});
