import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { MAX_REQUEST_HEAD_BYTES } from '../src/http-server.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * Input a shared service must stand up to: each case gets a 4xx in OpenAI's
 * error shape, or the right 2xx when the input is legitimate, never a 500, and
 * the service keeps serving afterwards.
 */

let upstream: FakeUpstream;
let service: Service;

const BODY_LIMIT = 4096;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url, env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
});

afterEach(async () => {
  // Whatever was thrown at it, the service still answers a plain request.
  const res = await service.request('/v1/chat/completions?limit=1');
  expect(res.status).toBe(200);
  await service.close();
  await upstream.close();
});

const messages = [{ role: 'user' as const, content: 'Hello' }];
const jsonHeaders = { 'content-type': 'application/json' };

function error(message: string, param: string | null = null, code: string | null = null) {
  return { error: { message, type: 'invalid_request_error', param, code } };
}

const NOT_JSON = error(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please visit https://help.openai.com.)",
);
const TOO_LARGE = error(`Request body too large: the maximum is ${BODY_LIMIT} bytes.`, null, 'request_too_large');

/** The response's status and body, after checking the body is OpenAI's error shape with exactly its four fields. */
async function errorOf(res: Response): Promise<{ status: number; body: unknown }> {
  const body = (await res.json()) as { error: Record<string, unknown> };
  assertMatchesSchema('ErrorResponse', body);
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return { status: res.status, body };
}

async function createStored(metadata: Record<string, string>): Promise<string> {
  return (await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata })).id;
}

/** Sends bytes on a raw socket and returns everything the server answers until it closes the connection. */
async function rawExchange(text: string, { endAfterWrite = false } = {}): Promise<string> {
  const { port } = new URL(service.origin);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('utf8')));
  socket.write(text);
  if (endAfterWrite) socket.end();
  await once(socket, 'close');
  return received;
}

/** The JSON bodies in a raw HTTP exchange, in order. */
function bodiesOf(raw: string): unknown[] {
  return raw
    .split('HTTP/1.1 ')
    .slice(1)
    .map((response) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)));
}

describe('hostile but legal metadata round-trips through the official client', () => {
  // Own properties from JSON.parse: a `__proto__` key in an object literal would set the prototype instead.
  const hostile = JSON.parse(
    JSON.stringify({
      brackets: ['a]b[c', 'v'],
      percent: ['%2F', '%41%'],
      quotes: [`"quoted" 'single'`, `it's "fine"`],
      unicode: ['ключ', 'значение ü'],
      emoji: ['🔑', '🎉 party'],
      sql: ["'; DROP TABLE completions; --", "1' OR '1'='1"],
      like: ['50%_off', '%'],
      proto: ['__proto__', 'polluted'],
      ctor: ['constructor', 'toString'],
      nested: ['metadata[x]', 'y'],
      empty: ['empty', ''],
      separators: ['a&b=c', 'x+y z&w=1#frag?q'],
      nul: ['nul\u0000key', 'nul\u0000value'],
    }),
  ) as Record<string, [string, string]>;

  it('stores each key and value as sent, and filters on each exactly', async () => {
    const ids: Record<string, string> = {};
    for (const [name, [key, value]] of Object.entries(hostile)) {
      ids[name] = await createStored(Object.fromEntries([[key, value], ['case', name]]));
    }
    // A decoy per case: same key, a value that differs by a character the encoders treat specially.
    for (const [key, value] of Object.values(hostile)) await createStored(Object.fromEntries([[key, `${value}+`]]));

    const client = service.client();
    for (const [name, [key, value]] of Object.entries(hostile)) {
      const stored = await client.chat.completions.retrieve(ids[name]!);
      expect(stored.metadata, name).toEqual(Object.fromEntries([[key, value], ['case', name]]));
      const page = await client.chat.completions.list({ metadata: Object.fromEntries([[key, value]]) });
      expect(page.data.map((c) => c.id), name).toEqual([ids[name]]);
      const both = await client.chat.completions.list({ metadata: Object.fromEntries([[key, value], ['case', name]]) });
      expect(both.data.map((c) => c.id), name).toEqual([ids[name]]);
    }
  });

  it('filters the same way when the query comes as openai-python sends it (+ for spaces) or with raw brackets', async () => {
    const ids: Record<string, string> = {};
    for (const [name, [key, value]] of Object.entries(hostile)) ids[name] = await createStored(Object.fromEntries([[key, value]]));
    for (const [name, [key, value]] of Object.entries(hostile)) {
      // application/x-www-form-urlencoded, as httpx encodes params: brackets as %5B %5D, spaces as +.
      const pythonStyle = new URLSearchParams([[`metadata[${key}]`, value]]).toString();
      const res = await service.request(`/v1/chat/completions?${pythonStyle}`);
      expect(res.status, name).toBe(200);
      expect(((await res.json()) as { data: { id: string }[] }).data.map((c) => c.id), name).toEqual([ids[name]]);

      // curl-style: brackets left as they are, the rest percent-encoded.
      const rawBrackets = `metadata[${encodeURIComponent(key)}]=${encodeURIComponent(value)}`;
      const raw = await service.request(`/v1/chat/completions?${rawBrackets}`);
      expect(((await raw.json()) as { data: { id: string }[] }).data.map((c) => c.id), name).toEqual([ids[name]]);
    }
  });

  it('updates to hostile keys, and clears them again, through the client', async () => {
    const id = await createStored({ a: 'b' });
    const client = service.client();
    const hostileMap = Object.fromEntries(Object.values(hostile));
    expect(Object.keys(hostileMap)).toHaveLength(13);
    const updated = await client.chat.completions.update(id, { metadata: hostileMap });
    expect(updated.metadata).toEqual(hostileMap);
    expect((await client.chat.completions.list({ metadata: Object.fromEntries([['__proto__', 'polluted']]) })).data.map((c) => c.id)).toEqual([id]);
    expect((await client.chat.completions.list({ metadata: { a: 'b' } })).data).toEqual([]);
    const cleared = await client.chat.completions.update(id, { metadata: null });
    expect(cleared.metadata).toEqual({});
    expect((await client.chat.completions.list({ metadata: { empty: '' } })).data).toEqual([]);
  });

  it('counts length in characters: 64 emoji make a valid key, 65 do not', async () => {
    const key64 = '🔑'.repeat(64);
    const id = await createStored({ [key64]: '🎉'.repeat(512) });
    expect((await service.client().chat.completions.list({ metadata: { [key64]: '🎉'.repeat(512) } })).data.map((c) => c.id)).toEqual([id]);
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: jsonHeaders,
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true, metadata: { ['🔑'.repeat(65)]: 'v' } }),
    });
    expect(await errorOf(res)).toEqual({
      status: 400,
      body: error(
        "Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a key with length 65 instead.",
        'metadata',
        'string_above_max_length',
      ),
    });
  });

  it('refuses a lone surrogate, which no UTF-8 query could filter on', async () => {
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: jsonHeaders,
      body: '{"model":"gpt-4o","messages":[],"store":true,"metadata":{"k":"\\ud800"}}',
    });
    expect(await errorOf(res)).toEqual({
      status: 400,
      body: error("Invalid 'metadata.k': keys and values must be valid Unicode text.", 'metadata.k', 'invalid_value'),
    });
    expect(upstream.received).toEqual([]);
  });
});

describe('hostile completion ids', () => {
  const ids: [name: string, path: string, decoded: string][] = [
    ['an encoded slash', 'a%2Fb', 'a/b'],
    ['an encoded percent', '%25', '%'],
    ['a lone percent', '%', '%'],
    ['an invalid escape', '%E0%A4%A', '%E0%A4%A'],
    ['an encoded lone surrogate', '%ED%A0%80', '%ED%A0%80'],
    ['a NUL', '%00', '\u0000'],
    ['unicode', encodeURIComponent('ü✓🎉'), 'ü✓🎉'],
    ['SQL', encodeURIComponent("x' OR '1'='1"), "x' OR '1'='1"],
    ['encoded dots', '%2E%2E%2Fetc', '../etc'],
    ['a 10 KB id', 'x'.repeat(10_240), 'x'.repeat(10_240)],
  ];

  for (const [name, path, decoded] of ids) {
    it(`${name}: every endpoint answers 404 with the id as the server read it`, async () => {
      await createStored({ a: 'b' });
      const expected = { status: 404, body: error(`No chat completion found with id '${decoded}'.`) };
      const base = `/v1/chat/completions/${path}`;
      expect(await errorOf(await service.request(base))).toEqual(expected);
      expect(await errorOf(await service.request(`${base}/messages`))).toEqual(expected);
      expect(await errorOf(await service.request(base, { method: 'DELETE' }))).toEqual(expected);
      const update = await service.request(base, { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ metadata: {} }) });
      expect(await errorOf(update)).toEqual(expected);
    });
  }

  it('a raw slash in an id is no completion route, and .. leaves the completion routes', async () => {
    expect(await errorOf(await service.request('/v1/chat/completions/a/b'))).toEqual({
      status: 404,
      body: error('Invalid URL (GET /v1/chat/completions/a/b)'),
    });
    // fetch would normalize `..` away, so it goes on a raw socket.
    const raw = await rawExchange(
      'GET /v1/chat/completions/../../x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nConnection: close\r\n\r\n',
    );
    // /v1/x is no route of ours, so it goes to the provider, whose 404 comes back.
    expect(raw.startsWith('HTTP/1.1 404 ')).toBe(true);
    expect(bodiesOf(raw)).toEqual([error('fake upstream: no route GET /v1/x')]);
    expect(upstream.received.map((r) => r.path)).toEqual(['/v1/x']);
  });

  it('a request line longer than the service takes (256 KiB) gets 431 in the error shape', async () => {
    const raw = await rawExchange(
      `GET /v1/chat/completions/${'x'.repeat(MAX_REQUEST_HEAD_BYTES + 1)} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\n\r\n`,
    );
    expect(raw.startsWith('HTTP/1.1 431 ')).toBe(true);
    expect(bodiesOf(raw)).toEqual([error('The request line and headers are larger than this server accepts.')]);
  });

  it("an Expect header other than 100-continue gets 417 in the error shape, and nothing reaches the provider", async () => {
    const raw = await rawExchange(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nExpect: weird\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    );
    expect(raw.startsWith('HTTP/1.1 417 ')).toBe(true);
    expect(bodiesOf(raw)).toEqual([error("The request's Expect header asks for what this server does not do: only 100-continue is.")]);
    expect(upstream.received).toEqual([]);
  });

  it('an HTTP/1.1 request without a Host header gets 400 in the error shape (HTTP/1.0, which has none, is served)', async () => {
    const raw = await rawExchange('POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer sk-k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    expect(raw.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(raw).toMatch(/\r\nx-request-id: req_[0-9a-f]{32}\r\n/i);
    expect(bodiesOf(raw)).toEqual([error('The request has no Host header; it must name the host it is sent to.')]);
    const old = await rawExchange('GET /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer sk-k\r\n\r\n');
    expect(old.startsWith('HTTP/1.1 200 ')).toBe(true);
    expect(upstream.received).toEqual([]);
  });

  it('CONNECT gets the 404 every method the service does not serve gets, not a silent close', async () => {
    const raw = await rawExchange('CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer sk-k\r\n\r\n');
    expect(raw.startsWith('HTTP/1.1 404 ')).toBe(true);
    expect(bodiesOf(raw)).toEqual([{ error: { message: 'Invalid URL (CONNECT 127.0.0.1:9)', type: 'invalid_request_error', param: null, code: null } }]);
  });

  it('ids from the upstream with /, %, ? and unicode round-trip through the client', async () => {
    const weird = ['chatcmpl-a/b', 'chatcmpl-%41%2F', 'chatcmpl-x?y#z', 'chatcmpl-ü🎉', 'chatcmpl-sp ace+plus'];
    upstream.nextIds = [...weird];
    const client = service.client();
    for (const id of weird) {
      const created = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { id } });
      expect(created.id).toBe(id);
      expect((await client.chat.completions.retrieve(id)).metadata).toEqual({ id });
      expect((await client.chat.completions.messages.list(id)).data.map((m) => m.id)).toEqual([`${id}-0`]);
      expect((await client.chat.completions.update(id, { metadata: { updated: id } })).metadata).toEqual({ updated: id });
    }
    const listed: string[] = [];
    for await (const c of client.chat.completions.list({ limit: 1 })) listed.push(c.id);
    expect(listed).toEqual([...weird].sort());
    for (const id of weird) expect((await client.chat.completions.delete(id)).id).toBe(id);
  });
});

describe('hostile query strings', () => {
  const cases: [query: string, status: number, body: unknown][] = [
    ['limit=1&limit=2', 400, error("Invalid 'limit': expected a single value, but got 2 values.", 'limit', 'invalid_type')],
    ['order=asc&order=desc', 400, error("Invalid 'order': expected a single value, but got 2 values.", 'order', 'invalid_type')],
    ['after=a&after=b&after=c', 400, error("Invalid 'after': expected a single value, but got 3 values.", 'after', 'invalid_type')],
    ['model=a&model=b', 400, error("Invalid 'model': expected a single value, but got 2 values.", 'model', 'invalid_type')],
    ['metadata[k]=1&metadata%5Bk%5D=2', 400, error("Invalid 'metadata.k': expected a single value, but got 2 values.", 'metadata.k', 'invalid_type')],
    ['metadata=x', 400, error("Invalid type for 'metadata': expected an object, but got a string instead.", 'metadata', 'invalid_type')],
    // The .NET SDK writes a key as it is: `c&d` splits the pair; ignored, the list would come back unfiltered.
    ['metadata[c&d]=2', 400, error("Invalid metadata filter 'metadata[c': expected metadata[KEY]=VALUE. A key holding &, =, #, + or % must be percent-encoded.", 'metadata', 'invalid_value')],
    ['metadata[k=v', 400, error("Invalid metadata filter 'metadata[k': expected metadata[KEY]=VALUE. A key holding &, =, #, + or % must be percent-encoded.", 'metadata', 'invalid_value')],
    ['limit=abc', 400, error("Invalid 'limit': expected an integer, but got 'abc' instead.", 'limit', 'invalid_type')],
    ['limit=1e2', 400, error("Invalid 'limit': expected an integer, but got '1e2' instead.", 'limit', 'invalid_type')],
    ['limit=%00', 400, error("Invalid 'limit': expected an integer, but got '\u0000' instead.", 'limit', 'invalid_type')],
    ['limit=0', 400, error("Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.", 'limit', 'integer_below_min_value')],
    ['limit=99999999999999999999999', 400, error("Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 99999999999999999999999 instead.", 'limit', 'integer_above_max_value')],
    ['order=%27%3B%20DROP', 400, error("Invalid value: ''; DROP'. Supported values are: 'asc' and 'desc'.", 'order', 'invalid_value')],
    ['after=%E2%9C%93', 400, error("Invalid 'after': no chat completion found with id '✓'.", 'after', null)],
    ['after=%ED%A0%80', 400, error("Invalid 'after': no chat completion found with id '\uFFFD\uFFFD\uFFFD'.", 'after', null)],
    [`metadata[${'k'.repeat(65)}]=v`, 400, error("Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a key with length 65 instead.", 'metadata', 'string_above_max_length')],
    [Array.from({ length: 17 }, (_, i) => `metadata[k${i}]=v`).join('&'), 400, error("Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.", 'metadata', 'object_above_max_properties')],
  ];

  for (const [query, status, body] of cases) {
    it(`GET /v1/chat/completions?${query.slice(0, 60)} is a ${status}`, async () => {
      expect(await errorOf(await service.request(`/v1/chat/completions?${query}`))).toEqual({ status, body });
    });
  }

  it('the messages endpoint refuses repeated parameters the same way', async () => {
    const id = await createStored({});
    for (const [query, name, count] of [['limit=1&limit=2', 'limit', 2], ['order=asc&order=asc', 'order', 2], [`after=${id}-0&after=${id}-0`, 'after', 2]] as const) {
      const res = await service.request(`/v1/chat/completions/${id}/messages?${query}`);
      expect(await errorOf(res)).toEqual({
        status: 400,
        body: error(`Invalid '${name}': expected a single value, but got ${count} values.`, name, 'invalid_type'),
      });
    }
  });

  it('ignores parameters it does not know, nested ones included, and reads metadata[a][b] as the key "a][b"', async () => {
    const id = await createStored({ 'a][b': 'c' });
    for (const query of ['limit[x]=1', 'order[]=desc', 'foo=bar&foo=baz', 'metadata', 'metadata=', '&&&=&']) {
      const res = await service.request(`/v1/chat/completions?${query}`);
      expect(res.status, query).toBe(200);
      expect(((await res.json()) as { data: { id: string }[] }).data.map((c) => c.id), query).toEqual([id]);
    }
    const nested = await service.request('/v1/chat/completions?metadata[a][b]=c');
    expect(((await nested.json()) as { data: { id: string }[] }).data.map((c) => c.id)).toEqual([id]);
  });
});

describe('hostile bodies', () => {
  const routes = [
    { name: 'create', path: () => '/v1/chat/completions' },
    { name: 'update', path: (id: string) => `/v1/chat/completions/${id}` },
  ];

  const bodies: [name: string, body: string | Uint8Array, status: number, expected: unknown][] = [
    ['not JSON', '{nope', 400, NOT_JSON],
    ['empty', '', 400, NOT_JSON],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 400, NOT_JSON],
    ['a JSON string', '"metadata"', 400, error('Invalid body: expected a JSON object, but got a string instead.', null, 'invalid_type')],
    ['a JSON array', '[{"metadata":{}}]', 400, error('Invalid body: expected a JSON object, but got an array instead.', null, 'invalid_type')],
    ['a JSON number', '42', 400, error('Invalid body: expected a JSON object, but got an integer instead.', null, 'invalid_type')],
    ['JSON null', 'null', 400, error('Invalid body: expected a JSON object, but got null instead.', null, 'invalid_type')],
    ['deeply nested', `{"metadata":{},"x":${'['.repeat(500)}${']'.repeat(500)}}`, 400, error('Invalid body: JSON nested deeper than 128 levels.', null, 'invalid_value')],
    ['over the limit', `{"metadata":{},"x":"${'x'.repeat(BODY_LIMIT)}"}`, 413, TOO_LARGE],
    ['metadata of the wrong type', '{"metadata":"x","model":"m","messages":[]}', 400, error("Invalid type for 'metadata': expected an object, but got a string instead.", 'metadata', 'invalid_type')],
    ['metadata as an array', '{"metadata":["a"],"model":"m","messages":[]}', 400, error("Invalid type for 'metadata': expected an object, but got an array instead.", 'metadata', 'invalid_type')],
    ['a metadata value that is not a string', '{"metadata":{"__proto__":{"x":1}},"model":"m","messages":[]}', 400, error("Invalid type for 'metadata.__proto__': expected a string, but got an object instead.", 'metadata.__proto__', 'invalid_type')],
  ];

  for (const route of routes) {
    for (const [name, body, status, expected] of bodies) {
      it(`${route.name} with a body that is ${name} gets ${status}, and nothing reaches the upstream or the store`, async () => {
        const id = await createStored({ keep: 'me' });
        const before = upstream.received.length;
        const res = await service.request(route.path(id), { method: 'POST', headers: jsonHeaders, body });
        expect(await errorOf(res)).toEqual({ status, body: expected });
        expect(upstream.received.length).toBe(before);
        expect((await service.client().chat.completions.retrieve(id)).metadata).toEqual({ keep: 'me' });
      });
    }

    it(`${route.name} refuses a chunked body over the limit, whatever it claims, with 413`, async () => {
      const id = await createStored({});
      const chunk = 'x'.repeat(BODY_LIMIT);
      const raw = await rawExchange(
        `POST ${route.path(id)} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
          `${chunk.length.toString(16)}\r\n${chunk}\r\n1\r\nx\r\n0\r\n\r\n`,
      );
      expect(raw.startsWith('HTTP/1.1 413 ')).toBe(true);
      expect(bodiesOf(raw)).toEqual([TOO_LARGE]);
    });
  }

  it('update without metadata, or with a metadata key of __proto__, is handled as any other key', async () => {
    const id = await createStored({});
    const missing = await service.request(`/v1/chat/completions/${id}`, { method: 'POST', headers: jsonHeaders, body: '{"__proto__":{"metadata":{}}}' });
    expect(await errorOf(missing)).toEqual({
      status: 400,
      body: error("Missing required parameter: 'metadata'.", 'metadata', 'missing_required_parameter'),
    });
    const res = await service.request(`/v1/chat/completions/${id}`, {
      method: 'POST',
      headers: jsonHeaders,
      body: '{"metadata":{"__proto__":"x","constructor":"y","hasOwnProperty":"z"}}',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('"metadata":{"__proto__":"x","constructor":"y","hasOwnProperty":"z"}');
    const filtered = await service.request('/v1/chat/completions?metadata[__proto__]=x&metadata[hasOwnProperty]=z');
    expect(((await filtered.json()) as { data: { id: string }[] }).data.map((c) => c.id)).toEqual([id]);
  });

  it('a Content-Length shorter than the body: the cut body is refused, and the leftover bytes close the connection', async () => {
    const id = await createStored({});
    const raw = await rawExchange(
      `POST /v1/chat/completions/${id} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"metadata":{"a":"b"}}`,
    );
    // The leftover bytes are parsed at once as a next request, which Node's parser refuses while the first is still
    // being answered: the connection is closed, as its own 400 would be read as the first request's answer. The
    // first request's own 400 may have been written before.
    for (const body of bodiesOf(raw)) expect(body).toEqual(NOT_JSON);
    expect((await service.client().chat.completions.retrieve(id)).metadata).toEqual({});
  });

  it('a Content-Length that is not a number is a 400 in the error shape', async () => {
    const raw = await rawExchange(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nContent-Length: ten\r\n\r\n{}',
    );
    expect(raw.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(bodiesOf(raw)).toEqual([error('We could not parse your HTTP request.')]);
  });

  it('a Host that is no host, a backslash in the path, or OPTIONS * is a 400 in the error shape, and reaches nothing', async () => {
    const id = await createStored({ keep: 'me' });
    const before = upstream.received.length;
    for (const [line, host] of [
      [`DELETE /v1/chat/completions/${id}`, 'a b'],
      [`DELETE /v1/chat/completions/${id}`, 'x/v1/models?'],
      ['GET /v1\\models', 'a'],
      ['OPTIONS *', 'a'],
    ]) {
      const raw = await rawExchange(`${line} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer sk-k\r\nConnection: close\r\n\r\n`);
      expect(raw.startsWith('HTTP/1.1 400 '), `${line} with Host: ${host}`).toBe(true);
      expect(raw.toLowerCase()).toContain('\r\ncontent-type: application/json');
      expect(raw.toLowerCase()).toMatch(/\r\nx-request-id: req_[0-9a-f]{32}\r\n/);
      expect(bodiesOf(raw)).toEqual([error('We could not parse your HTTP request.')]);
    }
    expect(upstream.received.length).toBe(before);
    expect((await service.client().chat.completions.retrieve(id)).metadata).toEqual({ keep: 'me' });
  });

  it.each([['a stored create', '/v1/chat/completions'], ['a passed-through route', '/v1/embeddings']])('a chunked body over the limit on a kept-alive connection (%s): the 413 closes the connection, whose rest of the body was never read', async (_name, path) => {
    const { port } = new URL(service.origin);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    const closed = once(socket, 'close').then(() => 'closed');
    const chunk = 'x'.repeat(BODY_LIMIT);
    // No Connection: close from the client, and the body goes on after the limit: a client pooling the connection
    // (fetch, the SDKs) sent its next request on it and met a reset.
    socket.write(`POST ${path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const outcome = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 5_000))]);
    socket.destroy();
    expect({ outcome, status: received.slice(0, 13), connection: /\r\nconnection: (\S+)\r\n/i.exec(received)?.[1] }).toEqual({
      outcome: 'closed',
      status: 'HTTP/1.1 413 ',
      connection: 'close',
    });
    expect(bodiesOf(received)).toEqual([TOO_LARGE]);
    // The service goes on serving new connections.
    expect((await service.request('/v1/chat/completions')).status).toBe(200);
  });

  it('a Content-Length over the limit is refused before the body is read', async () => {
    const raw = await rawExchange(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nContent-Length: ${BODY_LIMIT + 1}\r\nConnection: close\r\n\r\n{`,
    );
    expect(raw.startsWith('HTTP/1.1 413 ')).toBe(true);
    expect(bodiesOf(raw)).toEqual([TOO_LARGE]);
  });

  it('a Content-Length longer than the body, the client then hanging up, stores nothing and leaves the service serving', async () => {
    const id = await createStored({ keep: 'me' });
    await rawExchange(
      `POST /v1/chat/completions/${id} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nContent-Length: 100\r\n\r\n{"metadata":{}}`,
      { endAfterWrite: true },
    );
    expect((await service.client().chat.completions.retrieve(id)).metadata).toEqual({ keep: 'me' });
  });
});
