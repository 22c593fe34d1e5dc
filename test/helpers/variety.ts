import { fakeCompletion, type FakeUpstream } from './fake-upstream.ts';
import { streamingHandler } from './fake-sse.ts';
import type { Service } from './service.ts';

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
};

/** Stores one of each kind of stored completion the official client can make. */
export async function storeVariety(service: Service, upstream: FakeUpstream): Promise<string[]> {
  const client = service.client();
  const ids: string[] = [];
  const defaultHandler = upstream.handler;
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
  upstream.handler = defaultHandler;
  return ids;
}

