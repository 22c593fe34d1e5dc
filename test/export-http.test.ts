import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { watchEventLoop } from './helpers/event-loop.ts';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, useServiceEachTest } from './helpers/service.ts';
import { projectOf } from './helpers/source-service.ts';
import { toCompletionRecord } from '../src/wire.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

const OTHER_KEY = 'sk-test-key-0002';

async function create(key: string, content: string, created: number, metadata: Record<string, string> = {}, model = 'gpt-4o') {
  upstream.created = created;
  return service.client(key).chat.completions.create({ model, messages: [{ role: 'user', content }], store: true, metadata });
}

async function exportText(query: string, key = DEFAULT_KEY): Promise<{ status: number; type: string | null; body: string }> {
  const res = await service.request(`/v1/stored-completions/export${query}`, { key });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

const ids = (body: string) => body.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);

describe('get /v1/stored-completions/export', () => {
  it("streams the caller's project only, in (created, id) order, as NDJSON", async () => {
    const late = await create(DEFAULT_KEY, 'late', 1_700_000_100);
    const early = await create(DEFAULT_KEY, 'early', 1_700_000_000);
    await create(OTHER_KEY, 'someone else', 1_700_000_050);
    const res = await exportText('');
    expect(res.status, res.body).toBe(200);
    expect(res.type).toBe('application/x-ndjson');
    expect(ids(res.body)).toEqual([early.id, late.id]);
    const line = res.body.split('\n')[0]!;
    const retrieved = await (await service.request(`/v1/chat/completions/${early.id}`)).text();
    const messages = await (await service.request(`/v1/chat/completions/${early.id}/messages`)).json();
    expect(line).toBe(`${retrieved.slice(0, -1)},"input_messages":${JSON.stringify(messages.data)}}`);
    expect(ids((await exportText('', OTHER_KEY)).body)).toHaveLength(1);
  });

  it('applies model, metadata, created range and limit', async () => {
    const a = await create(DEFAULT_KEY, 'a', 1_700_000_000, { env: 'prod', user: 'u1' });
    const b = await create(DEFAULT_KEY, 'b', 1_700_000_010, { env: 'prod', user: 'u2' }, 'gpt-4o-mini');
    const c = await create(DEFAULT_KEY, 'c', 1_700_000_020, { env: 'dev' });
    const d = await create(DEFAULT_KEY, 'd', 1_700_000_030, { env: 'prod' });
    expect(ids((await exportText('?metadata[env]=prod')).body)).toEqual([a.id, b.id, d.id]);
    expect(ids((await exportText('?metadata[env]=prod&metadata[user]=u2')).body)).toEqual([b.id]);
    expect(ids((await exportText('?model=gpt-4o-mini')).body)).toEqual([b.id]);
    expect(ids((await exportText('?created_after=1700000010&created_before=1700000030')).body)).toEqual([b.id, c.id]);
    expect(ids((await exportText('?limit=3')).body)).toEqual([a.id, b.id, c.id]);
    expect(ids((await exportText('?metadata[env]=prod&limit=2')).body)).toEqual([a.id, b.id]);
    expect((await exportText('?metadata[env]=none')).body).toBe('');
  });

  it('takes any whole number as limit and choice, past 2^53 too (docs/api.md: no maximum)', async () => {
    const a = await create(DEFAULT_KEY, 'a', 1_700_000_000);
    const b = await create(DEFAULT_KEY, 'b', 1_700_000_010);
    const all = await exportText('?limit=99999999999999999999');
    expect(all.status, all.body).toBe(200);
    expect(ids(all.body)).toEqual([a.id, b.id]);
    // No completion has such a choice: every finetune line is skipped, every eval line has no output.
    expect(await exportText('?format=finetune&choice=99999999999999999999')).toEqual({ status: 200, type: 'application/x-ndjson', body: '' });
    const evalLines = await exportText('?format=eval&choice=99999999999999999999');
    expect(evalLines.body.trim().split('\n').map((line) => (JSON.parse(line) as { item: { output: string } }).item.output)).toEqual(['', '']);
    const negative = await exportText('?limit=-99999999999999999999');
    expect(negative).toEqual({
      status: 400,
      type: 'application/json',
      body: JSON.stringify({
        error: {
          message: "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got -99999999999999999999 instead.",
          type: 'invalid_request_error',
          param: 'limit',
          code: 'integer_below_min_value',
        },
      }),
    });
  });

  it('writes finetune and eval lines', async () => {
    const a = await create(DEFAULT_KEY, 'hello', 1_700_000_000, { env: 'prod' });
    const finetune = await exportText('?format=finetune');
    expect(finetune.body).toBe(
      `${JSON.stringify({ messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'echo 0: hello' }] })}\n`,
    );
    const item = { id: a.id, model: 'gpt-4o-2024-01-01', input: [{ role: 'user', content: 'hello' }], output: 'echo 0: hello', metadata: { env: 'prod' } };
    // SPEC.md's eval line: the item alone, unless the sample is asked for.
    expect((await exportText('?format=eval')).body).toBe(`${JSON.stringify({ item })}\n`);
    expect((await exportText('?format=eval&sample=false')).body).toBe(`${JSON.stringify({ item })}\n`);
    const stored = (await (await service.request(`/v1/chat/completions/${a.id}`)).json()) as { choices: unknown[]; usage: unknown };
    expect((await exportText('?format=eval&sample=true')).body).toBe(
      `${JSON.stringify({
        item,
        sample: { model: 'gpt-4o-2024-01-01', output_text: 'echo 0: hello', output_tools: [], choices: stored.choices, finish_reason: 'stop', usage: stored.usage },
      })}\n`,
    );
  });

  it('writes a finetune line of a conversation with the input messages as sent, earlier assistant turns included unchanged', async () => {
    // SPEC.md: the input messages as sent, then the reply. No `weight` is added to earlier assistant turns: which of them to
    // train on is the user's choice, made on the file (docs/decisions.md).
    await service.client().chat.completions.create({
      model: 'gpt-4o',
      store: true,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'Bye' },
      ],
    });
    expect(await exportText('?format=finetune')).toEqual({
      status: 200,
      type: 'application/x-ndjson',
      body:
        '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},' +
        '{"role":"assistant","content":"Hello!"},{"role":"user","content":"Bye"},{"role":"assistant","content":"echo 0: Bye"}]}\n',
    });
  });

  it('makes no finetune line of a request with a role fine-tuning does not know, which a lax provider took (the upload would fail whole)', async () => {
    for (const role of ['ipython', 'critic']) {
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', store: true, messages: [{ role: 'user', content: 'Run it' }, { role, content: '42' }] }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    expect(await exportText('?format=finetune')).toEqual({ status: 200, type: 'application/x-ndjson', body: '' });
    // The eval line keeps every message as sent.
    const inputs = (await exportText('?format=eval')).body.trim().split('\n').map((line) => (JSON.parse(line) as { item: { input: unknown[] } }).item.input[1]);
    expect(inputs).toEqual([{ role: 'ipython', content: '42' }, { role: 'critic', content: '42' }]);
  });

  it('writes integers past 2^53 in finetune lines as they were stored, not rounded', async () => {
    const tools = '[{"type":"function","function":{"name":"pick","parameters":{"type":"object","properties":{"n":{"type":"integer","maximum":9223372036854775807}}}}}]';
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"store":true,"tools":${tools}}`,
    });
    expect(res.status).toBe(200);
    const finetune = await exportText('?format=finetune');
    expect(finetune.body).toBe(
      `{"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"echo 0: hello"}],"tools":${tools}}\n`,
    );
  });

  it('continues after a completion, in either order, as the list does (a cut download resumed from its last id)', async () => {
    const a = await create(DEFAULT_KEY, 'a', 1_700_000_000);
    const b = await create(DEFAULT_KEY, 'b', 1_700_000_010);
    const c = await create(DEFAULT_KEY, 'c', 1_700_000_020);
    expect(ids((await exportText(`?after=${a.id}`)).body)).toEqual([b.id, c.id]);
    expect(ids((await exportText('?order=desc')).body)).toEqual([c.id, b.id, a.id]);
    expect(ids((await exportText(`?order=desc&after=${c.id}&limit=1`)).body)).toEqual([b.id]);
    const evalLines = (await exportText(`?format=eval&after=${b.id}`)).body.trim().split('\n');
    expect(evalLines.map((line) => (JSON.parse(line) as { item: { id: string } }).item.id)).toEqual([c.id]);
    // A deleted completion is still a place to continue from, as in the list.
    expect((await service.request(`/v1/chat/completions/${b.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(ids((await exportText(`?after=${b.id}`)).body)).toEqual([c.id]);
    // An id the project never had, or another project's, is the list's own 400, before any line.
    for (const [after, key] of [['chatcmpl-never', DEFAULT_KEY], [a.id, OTHER_KEY]] as const) {
      const listed = await service.request(`/v1/chat/completions?after=${after}`, { key });
      expect(await exportText(`?after=${after}`, key)).toEqual({ status: 400, type: 'application/json', body: await listed.text() });
    }
    const listedOrder = await service.request('/v1/chat/completions?order=sideways');
    expect(await exportText('?order=sideways')).toEqual({ status: 400, type: 'application/json', body: await listedOrder.text() });
  });

  it('refuses bad parameters in OpenAI’s error shape', async () => {
    expect(await exportText('?format=xml')).toEqual({
      status: 400,
      type: 'application/json',
      body: JSON.stringify({
        error: { message: "Invalid value: 'xml'. Supported values are: 'completions', 'finetune' and 'eval'.", type: 'invalid_request_error', param: 'format', code: 'invalid_value' },
      }),
    });
    const shapeOf = (message: string, param: string, code: string) => ({
      status: 400,
      type: 'application/json',
      body: JSON.stringify({ error: { message, type: 'invalid_request_error', param, code } }),
    });
    expect(await exportText('?format=eval&sample=yes')).toEqual(shapeOf("Invalid value: 'yes'. Supported values are: 'true' and 'false'.", 'sample', 'invalid_value'));
    expect(await exportText('?format=finetune&sample=true')).toEqual(
      shapeOf("'sample' applies only to format 'eval' (the format asked for is 'finetune').", 'sample', 'invalid_value'),
    );
    expect(await exportText('?sample=true')).toEqual(shapeOf("'sample' applies only to format 'eval' (the format asked for is 'completions').", 'sample', 'invalid_value'));
    // A completions line holds every choice: a choice asked for there would be without effect, so it is refused.
    const choiceRefused = shapeOf(
      "'choice' applies only to formats 'finetune' and 'eval' (the format asked for is 'completions', whose lines hold every choice).",
      'choice',
      'invalid_value',
    );
    expect(await exportText('?choice=1')).toEqual(choiceRefused);
    expect(await exportText('?format=completions&choice=0')).toEqual(choiceRefused);
    expect((await exportText('?choice=')).status).toBe(200);
    const limit = await exportText('?limit=0');
    expect(limit.status).toBe(400);
    expect(JSON.parse(limit.body).error).toEqual({
      message: "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.",
      type: 'invalid_request_error',
      param: 'limit',
      code: 'integer_below_min_value',
    });
    const created = await exportText('?created_after=yesterday');
    expect(created.status).toBe(400);
    expect(JSON.parse(created.body).error.param).toBe('created_after');
    const unauthenticated = await service.request('/v1/stored-completions/export', { auth: false });
    expect(unauthenticated.status).toBe(401);
    const unknown = await service.request('/v1/stored-completions/nothing-here');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: { message: 'Invalid URL (GET /v1/stored-completions/nothing-here)', type: 'invalid_request_error', param: null, code: null },
    });
    expect(upstream.received).toEqual([]);
  });

  it('stops reading the store when the client goes away midway', async () => {
    // Enough completions that the body outgrows every socket buffer, so the export is still running when the client leaves.
    await create(DEFAULT_KEY, 'seed', 1_700_000_000);
    const firstLine = (await exportText('')).body;
    const template = JSON.parse(firstLine) as Record<string, unknown>;
    const projectName = await projectOf(service, DEFAULT_KEY);
    const padding = 'x'.repeat(4000);
    for (let batch = 0; batch < 10; batch++) {
      await service.store.saveCompletions(
        projectName,
        Array.from({ length: 1000 }, (_, i) =>
          toCompletionRecord({
            request: { model: 'gpt-4o', messages: [{ role: 'user', content: `${padding} ${batch}-${i}` }] },
            response: { ...template, choices: [{ index: 0, message: { role: 'assistant', content: padding }, finish_reason: 'stop' }] },
            id: `chatcmpl-bulk-${batch}-${i}`,
            requestId: 'req_0',
            metadata: {},
            now: 1_700_000_001,
          }),
        ),
      );
    }
    const gauge = async () => Number(/^stored_completions_exports_in_progress (\d+)$/m.exec(await (await service.request('/metrics')).text())?.[1]);

    // A client that reads the first chunk, stops reading, then hangs up.
    const req = httpRequest(new URL(`${service.origin}/v1/stored-completions/export`), { headers: { authorization: `Bearer ${DEFAULT_KEY}` } });
    const firstChunk = new Promise<Buffer>((resolve, reject) => {
      req.on('response', (res) => res.once('data', (chunk: Buffer) => (res.pause(), resolve(chunk))));
      req.on('error', reject);
    });
    req.end();
    expect((await firstChunk).length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(await gauge()).toBe(1);
    req.destroy();
    const deadline = Date.now() + 5000;
    while ((await gauge()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await gauge()).toBe(0);
  });

  it('gives other requests a turn between pages: a fast reader does not hold the whole service until the export ends', async () => {
    await create(DEFAULT_KEY, 'seed', 1_700_000_000);
    const template = JSON.parse((await exportText('')).body) as Record<string, unknown>;
    const projectName = await projectOf(service, DEFAULT_KEY);
    // Twenty pages of small lines: the reader takes each as it comes, so writing never waits for it.
    const ROWS = 10_000;
    await service.store.saveCompletions(
      projectName,
      Array.from({ length: ROWS }, (_, i) =>
        toCompletionRecord({
          request: { model: 'gpt-4o', messages: [{ role: 'user', content: `q${i}` }] },
          response: { ...template, choices: [{ index: 0, message: { role: 'assistant', content: 'a' }, finish_reason: 'stop' }] },
          id: `chatcmpl-page-${i}`,
          requestId: 'req_0',
          metadata: {},
          now: 1_700_000_001,
        }),
      ),
    );
    // Without a turn of the event loop between pages, the longest wait is the whole export.
    const started = performance.now();
    const loop = watchEventLoop();
    const lines = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(new URL(`${service.origin}/v1/stored-completions/export`), { headers: { authorization: `Bearer ${DEFAULT_KEY}` } });
      req.on('response', (res) => {
        let count = 0;
        res.on('data', (chunk: Buffer) => (count += chunk.toString().split('\n').length - 1));
        res.on('end', () => resolve(count));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    const totalMs = performance.now() - started;
    const longestMs = loop.stop();
    expect(lines).toBe(ROWS + 1);
    expect(longestMs, `longest wait ${longestMs.toFixed(1)} ms of an export taking ${totalMs.toFixed(1)} ms`).toBeLessThan(totalMs / 3);
  });

  it('answers HEAD as GET would, with the headers alone, leaving no export counted as running', async () => {
    await create(DEFAULT_KEY, 'one', 1_700_000_000);
    const gauge = async () => Number(/^stored_completions_exports_in_progress (\d+)$/m.exec(await (await service.request('/metrics')).text())?.[1]);
    for (let i = 0; i < 3; i++) {
      const res = await service.request('/v1/stored-completions/export?format=eval', { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(await res.text()).toBe('');
    }
    expect(await gauge()).toBe(0);
    const refused = await service.request('/v1/stored-completions/export?format=nope', { method: 'HEAD' });
    expect(refused.status).toBe(400);
    // An `after` the project never had is GET's 400 (read before GET answers), not a 200.
    const unknownAfter = await service.request('/v1/stored-completions/export?after=chatcmpl-never', { method: 'HEAD' });
    expect(unknownAfter.status).toBe((await service.request('/v1/stored-completions/export?after=chatcmpl-never')).status);
    expect(unknownAfter.status).toBe(400);
    expect(await gauge()).toBe(0);
  });
});

describe('post /v1/stored-completions/export (chosen completions, by id)', () => {
  async function exportIds(body: unknown, key = DEFAULT_KEY): Promise<{ status: number; type: string | null; body: string }> {
    const res = await service.request('/v1/stored-completions/export', { key, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  }
  const error = (status: number, message: string, param: string | null, code: string | null) => ({
    status,
    type: 'application/json',
    body: JSON.stringify({ error: { message, type: 'invalid_request_error', param, code } }),
  });

  it('streams the named completions in the order named, each line as the filtered export writes it', async () => {
    const a = await create(DEFAULT_KEY, 'a', 1_700_000_000, { env: 'prod' });
    const b = await create(DEFAULT_KEY, 'b', 1_700_000_010);
    const c = await create(DEFAULT_KEY, 'c', 1_700_000_020);
    const all = (await exportText('')).body.split('\n');
    const res = await exportIds({ ids: [c.id, a.id] });
    expect(res).toEqual({ status: 200, type: 'application/x-ndjson', body: `${all[2]}\n${all[0]}\n` });
    for (const format of ['finetune', 'eval']) {
      const filtered = (await exportText(`?format=${format}&order=desc`)).body.split('\n');
      expect(await exportIds({ ids: [c.id, b.id, a.id], format })).toEqual({ status: 200, type: 'application/x-ndjson', body: filtered.join('\n') });
    }
    const sampled = (await exportText('?format=eval&sample=true&order=desc')).body;
    expect(await exportIds({ ids: [c.id, b.id, a.id], format: 'eval', sample: true })).toEqual({ status: 200, type: 'application/x-ndjson', body: sampled });
    expect(sampled).not.toBe((await exportText('?format=eval&order=desc')).body);
    // A choice no completion has: no finetune line, and no answer to read (not an error).
    expect(await exportIds({ ids: [b.id], format: 'finetune', choice: 3 })).toEqual({ status: 200, type: 'application/x-ndjson', body: '' });
    expect(upstream.received.map((r) => r.path)).toEqual(Array(3).fill('/v1/chat/completions'));
  });

  it("is OpenAI's 404 naming the first id the project does not have (never stored, deleted, another project's), before any line", async () => {
    const mine = await create(DEFAULT_KEY, 'mine', 1_700_000_000);
    const deleted = await create(DEFAULT_KEY, 'deleted', 1_700_000_010);
    const theirs = await create(OTHER_KEY, 'theirs', 1_700_000_020);
    expect((await service.request(`/v1/chat/completions/${deleted.id}`, { method: 'DELETE' })).status).toBe(200);
    const notFound = (id: string, index: number) => error(404, `No chat completion found with id '${id}'.`, `ids[${index}]`, null);
    expect(await exportIds({ ids: [mine.id, 'chatcmpl-never'] })).toEqual(notFound('chatcmpl-never', 1));
    expect(await exportIds({ ids: [deleted.id, mine.id] })).toEqual(notFound(deleted.id, 0));
    expect(await exportIds({ ids: [mine.id, theirs.id] })).toEqual(notFound(theirs.id, 1));
    expect(ids((await exportIds({ ids: [theirs.id] }, OTHER_KEY)).body)).toEqual([theirs.id]);
  });

  it('refuses a body it cannot read in OpenAI’s error shape', async () => {
    const mine = await create(DEFAULT_KEY, 'mine', 1_700_000_000);
    expect(await exportIds({})).toEqual(error(400, "Missing required parameter: 'ids'.", 'ids', 'missing_required_parameter'));
    expect(await exportIds({ ids: mine.id })).toEqual(error(400, "Invalid type for 'ids': expected an array of strings, but got a string instead.", 'ids', 'invalid_type'));
    expect(await exportIds({ ids: [] })).toEqual(
      error(400, "Invalid 'ids': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'ids', 'empty_array'),
    );
    expect(await exportIds({ ids: Array.from({ length: 10_001 }, (_, i) => `chatcmpl-${i}`) })).toEqual(
      error(400, "Invalid 'ids': array too long. Expected an array with maximum length 10000, but got an array with length 10001 instead.", 'ids', 'array_above_max_length'),
    );
    expect(await exportIds({ ids: [mine.id, 7] })).toEqual(error(400, "Invalid type for 'ids[1]': expected a string, but got an integer instead.", 'ids[1]', 'invalid_type'));
    expect(await exportIds({ ids: [mine.id, mine.id] })).toEqual(error(400, "Invalid 'ids[1]': the same id as 'ids[0]'.", 'ids[1]', 'invalid_value'));
    expect(await exportIds({ ids: [mine.id], order: 'desc' })).toEqual(error(400, "Unknown parameter: 'order'.", 'order', 'unknown_parameter'));
    expect(await exportIds({ ids: [mine.id], format: 'xml' })).toEqual(
      error(400, "Invalid value: 'xml'. Supported values are: 'completions', 'finetune' and 'eval'.", 'format', 'invalid_value'),
    );
    expect(await exportIds({ ids: [mine.id], format: ['eval'] })).toEqual(error(400, "Invalid type for 'format': expected a string, but got an array instead.", 'format', 'invalid_type'));
    expect(await exportIds({ ids: [mine.id], choice: 1.5 })).toEqual(error(400, "Invalid type for 'choice': expected an integer, but got a decimal instead.", 'choice', 'invalid_type'));
    expect(await exportIds({ ids: [mine.id], choice: -1 })).toEqual(
      error(400, "Invalid 'choice': integer below minimum value. Expected a value >= 0, but got -1 instead.", 'choice', 'integer_below_min_value'),
    );
    expect(await exportIds({ ids: [mine.id], format: 'eval', sample: 'true' })).toEqual(
      error(400, "Invalid type for 'sample': expected a boolean, but got a string instead.", 'sample', 'invalid_type'),
    );
    expect(await exportIds({ ids: [mine.id], sample: true })).toEqual(
      error(400, "'sample' applies only to format 'eval' (the format asked for is 'completions').", 'sample', 'invalid_value'),
    );
    expect(await exportIds({ ids: [mine.id], format: 'completions', choice: 1 })).toEqual(
      error(400, "'choice' applies only to formats 'finetune' and 'eval' (the format asked for is 'completions', whose lines hold every choice).", 'choice', 'invalid_value'),
    );
    expect(await exportIds({ ids: [mine.id], choice: null })).toEqual(error(400, "Invalid type for 'choice': expected an integer, but got null instead.", 'choice', 'invalid_type'));
    expect((await exportIds([mine.id])).status).toBe(400);
    const unauthenticated = await service.request('/v1/stored-completions/export', { auth: false, method: 'POST', body: JSON.stringify({ ids: [mine.id] }) });
    expect(unauthenticated.status).toBe(401);
    expect(upstream.received).toHaveLength(1);
  });
});
