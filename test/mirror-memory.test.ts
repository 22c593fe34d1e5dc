import { join } from 'node:path';
import { expect, it } from 'vitest';
import { toCompletionRecord } from '../src/wire.ts';
import { runCli } from './helpers/cli.ts';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, startService } from './helpers/service.ts';
import { projectOf, type SourceSetup, useSourceEachTest } from './helpers/source-service.ts';

let upstream: FakeUpstream;
let source: Service;
let folder: string;
let later: SourceSetup['later'];

useSourceEachTest((setup) => ({ upstream, source, folder, later } = setup));

const MEGABYTE = 1024 * 1024;

/** `count` completions in the source, each with an input message of `megabytes` MB (read apart from the list) and a short reply. */
async function fillSource(count: number, megabytes: number): Promise<string[]> {
  const question = (n: number) => `question ${n} ` + 'lorem ipsum '.repeat(Math.ceil((megabytes * MEGABYTE) / 12));
  const records = Array.from({ length: count }, (_, i) =>
    toCompletionRecord({
      request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: question(i) }] },
      response: {
        id: 'x',
        object: 'chat.completion',
        created: 1_700_001_000 + i,
        model: 'gpt-4o-mini-2024-07-18',
        choices: [{ index: 0, message: { role: 'assistant', content: `reply ${i}`, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      },
      id: `chatcmpl-big${String(i).padStart(3, '0')}`,
      requestId: `req_${String(i).padStart(32, '0')}`,
      metadata: {},
      now: 1_700_001_000,
    }),
  );
  await source.store.saveCompletions(await projectOf(source, DEFAULT_KEY), records);
  return records.map((record) => record.id);
}

async function exportOf(service: Service): Promise<string> {
  const res = await service.request('/v1/stored-completions/export');
  expect(res.status).toBe(200);
  return res.text();
}

it('stores a list page as its completions are read, not all at once: 24 of 4 MB mirror in a 128 MB heap', async () => {
  const ids = await fillSource(24, 4);
  const target = join(folder, 'copy.db');
  // The page's 24 held until one transaction (96 MB of messages as read, then as the records' text) ran out of this heap.
  const run = await runCli(['mirror', '--from', source.baseURL, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], {
    env: { DATABASE_URL: target, NODE_OPTIONS: '--max-old-space-size=128' },
  });
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  expect(run.stderr).toMatch(/^mirror: 24 copied, 0 already there, 0 deleted at the source meanwhile, 0 not storable, 0 not mirrored; 24 listed on /m);

  const copy = await startService({ upstreamUrl: upstream.url, databasePath: target });
  later(() => copy.stop());
  // Every completion once, in the source's order, with its messages and reply byte for byte.
  const copied = await exportOf(copy);
  expect(copied.trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(ids);
  expect(copied).toBe(await exportOf(source));
}, 300_000);
