import { describe, expect, it } from 'vitest';
import { fakeCompletion, sendJson, type FakeUpstream } from './helpers/fake-upstream.ts';
import { streamingHandler } from './helpers/fake-sse.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';

/**
 * The headers that keep a project's data where it belongs: in the client that asked, not in a browser's or a
 * proxy's cache, and read as the type it says it is.
 */

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

const messages = [{ role: 'user' as const, content: 'Hello' }];
const jsonBody = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Status and the two headers of an answer, its body read to the end. */
async function headersOf(label: string, res: Response) {
  await res.arrayBuffer();
  return { label, status: res.status, cacheControl: res.headers.get('cache-control'), contentTypeOptions: res.headers.get('x-content-type-options') };
}

describe('caching and sniffing headers under /v1', () => {
  it("every answer the service makes itself, data or error, is Cache-Control: no-store and X-Content-Type-Options: nosniff", async () => {
    const { id } = await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { topic: 'a' } });
    const cases: [label: string, path: string, init: RequestInit & { auth?: boolean }, status: number][] = [
      ['list', '/v1/chat/completions', {}, 200],
      ['search', '/v1/chat/completions?search=hello', {}, 200],
      ['retrieve', `/v1/chat/completions/${id}`, {}, 200],
      ['messages', `/v1/chat/completions/${id}/messages`, {}, 200],
      ['update', `/v1/chat/completions/${id}`, jsonBody({ metadata: { topic: 'b' } }), 200],
      ['usage', '/v1/stored-completions/usage', {}, 200],
      ['export', '/v1/stored-completions/export', {}, 200],
      ['export HEAD', '/v1/stored-completions/export', { method: 'HEAD' }, 200],
      ['delete', `/v1/chat/completions/${id}`, { method: 'DELETE' }, 200],
      ['unknown id', `/v1/chat/completions/${id}`, {}, 404],
      ['bad parameter', '/v1/chat/completions?limit=0', {}, 400],
      ['bad body', '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }, 400],
      ['unknown path of ours', '/v1/stored-completions/nothing', {}, 404],
      ['spelling of our path', '/v1/chat%2Fcompletions', {}, 404],
      ['no key', '/v1/chat/completions', { auth: false }, 401],
    ];
    const answers = [];
    for (const [label, path, init] of cases) answers.push(await headersOf(label, await service.request(path, init)));
    expect(answers).toEqual(cases.map(([label, , , status]) => ({ label, status, cacheControl: 'no-store', contentTypeOptions: 'nosniff' })));
  });

  it("answers relayed from the provider are nosniff, and no-store unless the provider sent a Cache-Control of its own", async () => {
    upstream.handler = (request, res) => {
      if (request.path === '/v1/models') {
        // Its own nosniff spelling is not what this service promises: ours stands.
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'private, max-age=60', 'x-content-type-options': 'bogus' });
        res.end(JSON.stringify({ object: 'list', data: [] }));
      } else if (request.path === '/v1/embeddings') {
        sendJson(res, 200, { object: 'list', data: [] });
      } else if (request.json?.stream === true) {
        streamingHandler(fakeCompletion(request.json, 'chatcmpl-streamed', 1_700_000_000))(request, res);
      } else if (request.path === '/v1/chat/completions') {
        sendJson(res, 200, fakeCompletion(request.json!, 'chatcmpl-plain', 1_700_000_000));
      } else {
        sendJson(res, 404, { error: { message: 'no such thing', type: 'invalid_request_error', param: null, code: null } });
      }
    };
    const create = { model: 'gpt-4o', messages, store: true };
    const answers = [
      await headersOf('create', await service.request('/v1/chat/completions', jsonBody(create))),
      await headersOf('unstored create', await service.request('/v1/chat/completions', jsonBody({ ...create, store: false }))),
      // The provider's own SSE answer says `no-cache`: it knows its stream.
      await headersOf('stream', await service.request('/v1/chat/completions', jsonBody({ ...create, stream: true }))),
      await headersOf('pass-through', await service.request('/v1/embeddings', jsonBody({ model: 'e', input: 'x' }))),
      await headersOf('pass-through with its own', await service.request('/v1/models')),
      await headersOf('provider error', await service.request('/v1/files/file-x')),
    ];
    expect(answers).toEqual([
      { label: 'create', status: 200, cacheControl: 'no-store', contentTypeOptions: 'nosniff' },
      { label: 'unstored create', status: 200, cacheControl: 'no-store', contentTypeOptions: 'nosniff' },
      { label: 'stream', status: 200, cacheControl: 'no-cache', contentTypeOptions: 'nosniff' },
      { label: 'pass-through', status: 200, cacheControl: 'no-store', contentTypeOptions: 'nosniff' },
      { label: 'pass-through with its own', status: 200, cacheControl: 'private, max-age=60', contentTypeOptions: 'nosniff' },
      { label: 'provider error', status: 404, cacheControl: 'no-store', contentTypeOptions: 'nosniff' },
    ]);
  });

  it('the operational routes and the UI keep their own caching', async () => {
    const answers = [await headersOf('healthz', await service.request('/healthz', { auth: false })), await headersOf('page', await service.request('/', { auth: false }))];
    expect(answers).toEqual([
      { label: 'healthz', status: 200, cacheControl: null, contentTypeOptions: null },
      { label: 'page', status: 200, cacheControl: 'no-cache', contentTypeOptions: 'nosniff' },
    ]);
  });
});
