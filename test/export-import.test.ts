import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { fakeCompletion, type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { streamingHandler } from './helpers/fake-sse.ts';
import { DEFAULT_KEY, type Service, startService } from './helpers/service.ts';

let upstream: FakeUpstream;
let source: Service;
let folder: string;

beforeEach(async () => {
  folder = mkdtempSync(join(tmpdir(), 'export-import-'));
  upstream = await startFakeUpstream();
  source = await startService({ upstreamUrl: upstream.url });
});

afterEach(async () => {
  await source.close();
  await upstream.close();
  rmSync(folder, { recursive: true, force: true });
});

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
};

/** One of each kind of stored completion the official client can make. */
async function storeVariety(service: Service): Promise<string[]> {
  const client = service.client();
  const ids: string[] = [];
  upstream.created = 1_700_000_000;
  ids.push((await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'plain' }], store: true })).id);
  ids.push(
    (
      await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'tagged', name: 'ann' }],
        store: true,
        metadata: { user: 'u_1', env: 'prod' },
        temperature: 0.2,
        seed: 7,
        user: 'end-user-1',
      })
    ).id,
  );
  ids.push((await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'two' }], n: 2, store: true })).id);
  ids.push(
    (
      await client.chat.completions.create({
        model: 'gpt-4o',
        store: true,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this picture?' },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
              { type: 'text', text: 'Answer in one word.' },
            ],
          },
        ],
      })
    ).id,
  );
  upstream.handler = (request, res) => {
    const completion = fakeCompletion(request.json!, 'chatcmpl-tools-1', 1_700_000_100);
    (completion.choices as Record<string, unknown>[])[0]!.message = {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
    };
    (completion.choices as Record<string, unknown>[])[0]!.finish_reason = 'tool_calls';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion));
  };
  ids.push(
    (
      await client.chat.completions.create({
        model: 'gpt-4o',
        store: true,
        tools: [weatherTool],
        tool_choice: 'auto',
        metadata: { user: 'u_2' },
        messages: [
          { role: 'user', content: 'Weather in Paris, then Oslo?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
        ],
      })
    ).id,
  );
  const streamed = fakeCompletion({ model: 'gpt-4o-mini', messages: [{ content: 'streamed' }] }, 'chatcmpl-stream-1', 1_700_000_200);
  upstream.handler = streamingHandler(streamed);
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'stream please' }],
    stream: true,
    store: true,
    metadata: { env: 'dev' },
  });
  for await (const _ of stream) void _;
  ids.push('chatcmpl-stream-1');
  return ids;
}

async function text(service: Service, path: string): Promise<string> {
  const res = await service.request(path);
  expect(res.status, path).toBe(200);
  return res.text();
}

describe('export then import', () => {
  it('serves every retrieve, list and messages page byte for byte as the first database did', async () => {
    const ids = await storeVariety(source);
    expect(ids).toHaveLength(6);
    const file = join(folder, 'all.jsonl');
    const exported = await runCli(['export', '--key', DEFAULT_KEY, '--out', file], { env: { DATABASE_URL: source.databasePath } });
    expect(exported.stderr).toMatch(/export: 6 lines \(completions\) from 6 completions/);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');

    const copyPath = join(folder, 'copy.db');
    const imported = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/import: 6 stored, 0 already there/);

    const copy = await startService({ upstreamUrl: upstream.url, databasePath: copyPath });
    try {
      for (const id of ids) {
        expect(await text(copy, `/v1/chat/completions/${id}`)).toBe(await text(source, `/v1/chat/completions/${id}`));
        for (const query of ['', '?limit=1', '?limit=1&order=desc', `?after=${id}-0&limit=1`]) {
          const path = `/v1/chat/completions/${id}/messages${query}`;
          const first = await source.request(path);
          expect(await copy.request(path).then((r) => r.text())).toBe(await first.text());
        }
      }
      for (const query of ['', '?limit=2', '?order=desc', '?metadata[user]=u_2', '?model=gpt-4o']) {
        expect(await text(copy, `/v1/chat/completions${query}`)).toBe(await text(source, `/v1/chat/completions${query}`));
      }

      // Idempotent: the same file again stores nothing.
      const again = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/import: 0 stored, 6 already there/);
      expect(JSON.parse(await text(copy, '/v1/chat/completions?limit=100')).data).toHaveLength(6);

      // And the file exported from the copy is the file exported from the source.
      const reexported = await runCli(['export', '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
      expect(reexported.stdout).toBe(readFileSync(file, 'utf8'));
    } finally {
      await copy.close();
    }
  });

  it('writes each line as retrieve plus input_messages', async () => {
    const [id] = await storeVariety(source);
    const exported = await runCli(['export', '--key', DEFAULT_KEY, '--limit', '1'], { env: { DATABASE_URL: source.databasePath } });
    expect(exported.code, exported.stderr).toBe(0);
    const retrieved = await text(source, `/v1/chat/completions/${id}`);
    const messages = JSON.parse(await text(source, `/v1/chat/completions/${id}/messages`)) as { data: unknown[] };
    expect(exported.stdout).toBe(`${retrieved.slice(0, -1)},"input_messages":${JSON.stringify(messages.data)}}\n`);
  });
});
