/**
 * Shows that aborted streams leave nothing behind: a thousand clients start a
 * stored stream, read the first chunk and go away; afterwards the process's
 * open handles are the same as before, and a second thousand does not grow
 * the heap again (the first may still warm up JIT code and caches).
 * Everything runs in this process on 127.0.0.1 (fake upstream, proxy, clients).
 *
 *   node --expose-gc --import tsx bench/abort-leak.ts [streams=1000] [concurrency=20]
 */
import { completionToChunks, openSse } from '../test/helpers/fake-sse.ts';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { startService } from '../test/helpers/service.ts';

const total = Number(process.argv[2] ?? 1000);
const concurrency = Number(process.argv[3] ?? 20);
const WARM_UP = 300;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const chunk = completionToChunks({
  id: 'chatcmpl-leak',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(200), refusal: null }, logprobs: null, finish_reason: 'stop' }],
})[0];

const upstream = await startFakeUpstream();
let openUpstreamStreams = 0;
let upstreamAborted = 0;
upstream.handler = (_request, res) => {
  const sse = openSse(res);
  openUpstreamStreams++;
  sse.send(chunk);
  // Nothing more: only the client going away (through the proxy) ends this response.
  void sse.closed.then(({ finished }) => {
    openUpstreamStreams--;
    if (!finished) upstreamAborted++;
  });
};
const service = await startService({ upstreamUrl: upstream.url });
const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, store: true });

async function abortedStream(): Promise<void> {
  const controller = new AbortController();
  const res = await fetch(`${service.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-leak-test-0001', 'content-type': 'application/json' },
    body,
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort();
  await reader.closed.catch(() => {});
}

async function run(count: number): Promise<void> {
  let started = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (started < count) {
        started++;
        await abortedStream();
      }
    }),
  );
}

async function settle(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (openUpstreamStreams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // fetch (undici) keeps spare connections it opened but never used, idle and unref'd, for its 4 s
  // keep-alive timeout; their server ends are open handles. Outwait it, so both snapshots count
  // only what the streams themselves hold.
  await new Promise((r) => setTimeout(r, 5_000));
  // The fake upstream records every request it got; that is the test helper's memory, not the proxy's.
  upstream.received.length = 0;
  for (let i = 0; i < 5; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
}

function snapshot() {
  const handles: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1;
  const memory = process.memoryUsage();
  return { handles, heapUsedMB: +(memory.heapUsed / 2 ** 20).toFixed(2), rssMB: +(memory.rss / 2 ** 20).toFixed(1) };
}

// Warm-up: JIT, connection pools, prepared statements, so the baseline is the steady state.
await run(WARM_UP);
await settle();
const before = snapshot();
const startedAt = performance.now();
await run(total);
const seconds = (performance.now() - startedAt) / 1000;
await settle();
const after = snapshot();
// A second round: a leak grows again by as much; warm-up effects (JIT code, pools) do not.
await run(total);
await settle();
const afterSecondRound = snapshot();
const stored = service.db.prepare('SELECT count(*) AS n FROM completions').get() as { n: number };

const handleKey = (h: Record<string, number>) => JSON.stringify(Object.entries(h).sort());
const sameHandles = handleKey(before.handles) === handleKey(after.handles) && handleKey(after.handles) === handleKey(afterSecondRound.handles);
const heapGrowthMB = +(after.heapUsedMB - before.heapUsedMB).toFixed(2);
const secondRoundGrowthMB = +(afterSecondRound.heapUsedMB - after.heapUsedMB).toFixed(2);
console.log(JSON.stringify({ streams: total, concurrency, seconds: +seconds.toFixed(2), upstreamAborted, openUpstreamStreams, stored: stored.n, before, after, afterSecondRound, heapGrowthMB, secondRoundGrowthMB }, null, 2));
// The first round may still warm things up (JIT code, V8 caches); a leak would show as growth again in the second.
const ok = sameHandles && openUpstreamStreams === 0 && upstreamAborted === 2 * total + WARM_UP && stored.n === 0 && secondRoundGrowthMB < 0.5;
console.log(ok ? 'OK: handles and memory back to the baseline, every upstream request aborted, nothing stored' : 'LEAK?');
await service.close();
await upstream.close();
process.exit(ok ? 0 : 1);
