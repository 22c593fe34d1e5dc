import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createSourceClient, SourceError } from '../src/mirror/source-client.ts';
import { listenOnLoopback } from './helpers/fake-upstream.ts';

/**
 * The mirror's client against sources that misbehave on purpose: answers that never end, redirects to
 * another host, and the like. Each source is a real HTTP server on the loopback.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const listening = await listenOnLoopback(
    createServer((req, res) => {
      requests++;
      handler(req, res);
    }),
  );
  closers.push(listening.close);
  return { url: listening.url, requests: () => requests };
}

/** Writes chunks of `{"data":[` padding for as long as the connection is open: a body that never ends. */
function endless(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"object":"list","data":["');
  const chunk = 'x'.repeat(64 * 1024);
  const more = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  more();
}

describe('mirror source client', () => {
  it('stops reading an answer past its byte bound and does not retry it', async () => {
    const source = await serve((_req, res) => endless(res));
    const retries: string[] = [];
    const client = createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', maxBodyBytes: 1024 * 1024, initialDelayMs: 1, onRetry: ({ reason }) => retries.push(reason) });
    const failure = await client.get('/chat/completions').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as SourceError).message).toBe(
      `the source answered ${source.url}/chat/completions with more than 1 MiB (HTTP 200), more than any page of the API holds; stopped reading it`,
    );
    expect(retries).toEqual([]);
    expect(source.requests()).toBe(1);
  });

  it('reads an answer within the bound as it is', async () => {
    const body = JSON.stringify({ object: 'list', data: [{ id: 'a', text: 'é'.repeat(1000) }], has_more: false });
    const source = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`\ufeff${body}`));
    const client = createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', maxBodyBytes: Buffer.byteLength(body) + 3 });
    expect(await client.get('/chat/completions')).toEqual(JSON.parse(body));
  });
});
