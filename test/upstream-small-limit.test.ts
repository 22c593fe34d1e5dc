import { describe, expect, it } from 'vitest';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { postCompletion as create, storedCount, tooLargeBody } from './helpers/create-request.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

/**
 * A limit small enough that an answer over it arrives whole with its headers: undici then has its
 * bytes when the service refuses it, and destroying the body emits an 'error' event that, unheard,
 * took the whole process down (the vitest worker here, so the run fails).
 */
const LIMIT = 3000;

useServiceEachTest((started) => ({ upstream, service } = started), { UPSTREAM_RESPONSE_LIMIT_BYTES: String(LIMIT) });

const messages = [{ role: 'user', content: 'Hello' }];

const tooLarge = tooLargeBody(LIMIT);

/** Answers every call with `status` and `text`, its Content-Length declared. */
function answerWith(status: number, text: string): void {
  upstream.handler = (_request, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
}

function completionOf(size: number): string {
  const completion = fakeCompletion({ model: 'gpt-4o', messages }, 'chatcmpl-big', 1_700_000_000);
  (completion.choices as { message: { content: string } }[])[0]!.message.content = 'x'.repeat(size);
  return JSON.stringify(completion);
}

/** The service still answers: its health, and a create that fits the limit, stored. */
async function expectServing(): Promise<void> {
  const health = await service.request('/healthz');
  expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'ok' } });
  const small = completionOf(10);
  answerWith(200, small);
  const res = await create(service, { store: true });
  expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: JSON.parse(small) });
  expect(storedCount(service)).toEqual({ n: 1 });
}

describe('an answer over UPSTREAM_RESPONSE_LIMIT_BYTES that arrived whole', () => {
  for (const store of [true, false]) {
    it(`a 200 (store: ${store}) is a 502 saying so, nothing is stored, and the service goes on serving`, async () => {
      answerWith(200, completionOf(5000));
      const res = await create(service, { store });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 502, body: tooLarge });
      expect(storedCount(service)).toEqual({ n: 0 });
      // The refused body's 'error' event fires after the answer: give it its turns before looking.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expectServing();
    });
  }

  it('an error body over the limit is reported by its status alone, and the service goes on serving', async () => {
    answerWith(400, JSON.stringify({ error: { message: 'x'.repeat(5000), type: 'invalid_request_error', param: null, code: null } }));
    const res = await create(service, { store: true });
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 400,
      body: { error: { message: 'The upstream provider answered with status 400.', type: 'invalid_request_error', param: null, code: null } },
    });
    expect(storedCount(service)).toEqual({ n: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expectServing();
  });
});
