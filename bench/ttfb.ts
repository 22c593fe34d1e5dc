/**
 * Time to first byte of a streamed completion: through the proxy against
 * straight from the fake upstream, on 127.0.0.1, requests alternating so both
 * see the same machine noise. The proxy's overhead is the difference.
 *
 *   npx tsx bench/ttfb.ts [iterations=2000] [nostore]
 */
import { completionToChunks, openSse } from '../test/helpers/fake-sse.ts';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { startService } from '../test/helpers/service.ts';

const iterations = Number(process.argv[2] ?? 2000);
const warmUp = Math.min(200, iterations);

const chunks = completionToChunks({
  id: 'chatcmpl-ttfb',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there, how can I help you today?', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 },
}, { includeUsage: true });

const upstream = await startFakeUpstream();
upstream.handler = (_request, res) => {
  const sse = openSse(res);
  for (const chunk of chunks) sse.send(chunk);
  sse.done();
};
const service = await startService({ upstreamUrl: upstream.url });
const store = process.argv[3] !== 'nostore';
const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, store });
const headers = { authorization: 'Bearer sk-ttfb-000001', 'content-type': 'application/json' };

/** Milliseconds from sending the request to the first body bytes; the rest is read to the end. */
async function ttfb(baseURL: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers, body });
  const reader = res.body!.getReader();
  await reader.read();
  const elapsed = performance.now() - start;
  while (!(await reader.read()).done);
  return elapsed;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const direct: number[] = [];
const proxied: number[] = [];
for (let i = 0; i < warmUp; i++) {
  await ttfb(upstream.url);
  await ttfb(service.baseURL);
}
upstream.received.length = 0;
for (let i = 0; i < iterations; i++) {
  direct.push(await ttfb(upstream.url));
  proxied.push(await ttfb(service.baseURL));
  if (i % 500 === 499) upstream.received.length = 0;
}
direct.sort((a, b) => a - b);
proxied.sort((a, b) => a - b);
const row = (values: number[]) => ({ p50: +percentile(values, 50).toFixed(3), p90: +percentile(values, 90).toFixed(3), p99: +percentile(values, 99).toFixed(3) });
const result = {
  iterations,
  direct: row(direct),
  proxied: row(proxied),
  overheadMs: {
    p50: +(percentile(proxied, 50) - percentile(direct, 50)).toFixed(3),
    p99: +(percentile(proxied, 99) - percentile(direct, 99)).toFixed(3),
  },
  stored: (service.db.prepare('SELECT count(*) AS n FROM completions').get() as { n: number }).n,
};
console.log(JSON.stringify(result, null, 2));
await service.close();
await upstream.close();
