import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startChildServer, stopChildren } from './helpers/child-server.ts';
import { runCli, runCliInProcess } from './helpers/cli.ts';
import { completionsSoFar } from './helpers/sqlite-count.ts';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, startService } from './helpers/service.ts';
import { projectOf, type SourceSetup, useSourceEachTest } from './helpers/source-service.ts';
import { storeVariety } from './helpers/variety.ts';
import { toCompletionRecord } from '../src/wire.ts';

let upstream: FakeUpstream;
let source: Service;
let folder: string;
let later: SourceSetup['later'];

useSourceEachTest((setup) => ({ upstream, source, folder, later } = setup));

const OTHER_KEY = 'sk-test-key-0002';

async function view(service: Service, key: string, deletedId: string): Promise<string[]> {
  const paths = ['/v1/stored-completions/export', '/v1/chat/completions?limit=100', `/v1/chat/completions?after=${deletedId}&limit=100`];
  return Promise.all(
    paths.map(async (path) => {
      const res = await service.request(path, { key });
      return `${path} ${res.status} ${await res.text()}`;
    }),
  );
}

describe('copy', () => {
  it('copies every project, the deleted ids and the key secret, while the service runs on the source', async () => {
    const ids = await storeVariety(source, upstream);
    await source.client(OTHER_KEY).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'other' }], store: true, metadata: { team: 'b' } });
    // Written as text: a key that reads as an integer after another stays after it (an object would put it first).
    const updated = await source.request(`/v1/chat/completions/${ids[0]!}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"metadata":{"reviewed":"yes","2":"b"}}',
    });
    expect(await updated.text()).toContain(',"metadata":{"reviewed":"yes","2":"b"}}');
    await source.client().chat.completions.delete(ids[1]!);

    const target = join(folder, 'copy.db');
    const run = await runCli(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^copy: 6 completions, 1 deleted id, 1 setting in /);

    const copy = await startService({ upstreamUrl: upstream.url, databasePath: target });
    try {
      for (const key of [DEFAULT_KEY, OTHER_KEY]) expect(await view(copy, key, ids[1]!)).toEqual(await view(source, key, ids[1]!));
      expect(await view(copy, DEFAULT_KEY, ids[1]!)).toContainEqual(expect.stringMatching(/^\/v1\/chat\/completions\?after=\S+ 200 /));
    } finally {
      await copy.stop();
    }

    const again = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(again).toMatchObject({ code: 1, stderr: `stored-completions copy: the target ${target} already holds data: copy only writes into an empty database\n` });
  });

  it('says a target holds an interrupted copy (killed with -9 midway) and how to start over, and refuses to copy from one', async () => {
    await storeVariety(source, upstream);
    const project = await projectOf(source, DEFAULT_KEY);
    const total = 6 + 1500;
    await source.store.saveCompletions(
      project,
      Array.from({ length: 1500 }, (_, i) =>
        toCompletionRecord({
          request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i}` }] },
          response: {
            id: 'x',
            object: 'chat.completion',
            created: 1_700_001_000 + i,
            model: 'gpt-4o-mini-2024-07-18',
            choices: [{ index: 0, message: { role: 'assistant', content: `answer ${i}`, refusal: null }, logprobs: null, finish_reason: 'stop' }],
          },
          id: `chatcmpl-many${String(i).padStart(4, '0')}`,
          requestId: `req_${String(i).padStart(32, '0')}`,
          metadata: {},
          now: 1_700_001_000,
        }),
      ),
    );
    const target = join(folder, 'copy.db');
    const copiedSoFar = () => completionsSoFar(target);
    // One completion a transaction, so the kill falls midway.
    const killed = await runCli(['copy', '--from', source.databasePath, '--to', target, '--batch', '1'], {
      env: {},
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (copiedSoFar() > 0) {
            clearInterval(timer);
            child.kill('SIGKILL');
          }
        }, 10);
      },
    });
    expect(killed.code).toBe(null);
    const partial = copiedSoFar();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(total);

    const again = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      new RegExp(
        `^stored-completions copy: the target ${target} holds an unfinished copy: a copy into it from ${source.databasePath} started at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ` +
          `was stopped before the end, so it holds only part of that database\\. To start over, delete ${target} \\(and ${target}-wal and ${target}-shm beside it\\), then run the copy again\n$`,
      ),
    );
    // Copied on, the half copy would pass for a whole database.
    const onward = await runCliInProcess(['copy', '--from', target, '--to', join(folder, 'onward.db')], { env: {} });
    expect(onward.code).toBe(1);
    expect(onward.stderr).toBe(`stored-completions copy: the source ${target} holds an unfinished copy (a copy into it was stopped before the end): copy from the database it was copied from\n`);

    // Exported, it passes for the whole unless the export says otherwise.
    const exported = await runCliInProcess(['export', '--key', DEFAULT_KEY, '--limit', '1'], { env: { DATABASE_URL: target } });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(
      new RegExp(
        `^warning: this database holds an unfinished copy \\(a copy into it from ${source.databasePath} started at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ was stopped before the end\\): ` +
          'it has only part of its source, and so has this export\n',
      ),
    );

    // A service started on it serves it, with a warning that it holds only part of its source.
    const served = await startChildServer({ databasePath: target, upstreamUrl: upstream.url });
    try {
      const warning = served.logs.find((line) => line.level === 40);
      expect(warning).toMatchObject({
        msg: 'this database holds an unfinished copy (a copy into it was stopped before the end): it has only part of its source; copy again into an empty database',
        from: source.databasePath,
      });
      expect(served.logs.indexOf(warning!)).toBeLessThan(served.logs.findIndex((line) => line.msg === 'listening'));
    } finally {
      await stopChildren([served], 'SIGTERM');
    }

    // Done as the message says, the copy is whole.
    for (const file of [target, `${target}-wal`, `${target}-shm`]) rmSync(file, { force: true });
    const fresh = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toMatch(new RegExp(`^copy: ${total.toLocaleString('en-US')} completions, 0 deleted ids, 1 setting in `));
    const copy = await startService({ upstreamUrl: upstream.url, databasePath: target });
    try {
      expect(await view(copy, DEFAULT_KEY, 'chatcmpl-many0000')).toEqual(await view(source, DEFAULT_KEY, 'chatcmpl-many0000'));
    } finally {
      await copy.stop();
    }
    // And it copies on: no mark of the copy is left in it.
    const onwardAgain = await runCliInProcess(['copy', '--from', target, '--to', join(folder, 'onward.db')], { env: {} });
    expect(onwardAgain.code, onwardAgain.stderr).toBe(0);
    expect(onwardAgain.stderr).toMatch(new RegExp(`^copy: ${total.toLocaleString('en-US')} completions, 0 deleted ids, 1 setting in `));
  });

  it('fails, the target left marked unfinished, when a service on the target stores a completion during the copy', async () => {
    await storeVariety(source, upstream);
    const project = await projectOf(source, DEFAULT_KEY);
    const many = 3000;
    await source.store.saveCompletions(
      project,
      Array.from({ length: many }, (_, i) =>
        toCompletionRecord({
          request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i}` }] },
          response: { id: 'x', object: 'chat.completion', created: 1_700_001_000 + i, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: `answer ${i}`, refusal: null }, logprobs: null, finish_reason: 'stop' }] },
          id: `chatcmpl-many${String(i).padStart(4, '0')}`,
          requestId: `req_${String(i).padStart(32, '0')}`,
          metadata: {},
          now: 1_700_001_000,
        }),
      ),
    );
    const target = join(folder, 'busy.db');
    const busy = await startService({ upstreamUrl: upstream.url, databasePath: target, env: { API_KEYS: `${DEFAULT_KEY}:team` } });
    const copiedSoFar = () => (busy.db.prepare('SELECT count(*) AS n FROM completions').get() as { n: number }).n;
    let stored: Promise<unknown> | undefined;
    try {
      // One completion a transaction, so the service's create falls inside the copy.
      const run = await runCli(['copy', '--from', source.databasePath, '--to', target, '--batch', '1'], {
        env: {},
        onSpawn: () => {
          const timer = setInterval(() => {
            if (copiedSoFar() > 0) {
              clearInterval(timer);
              stored = busy.client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'meanwhile' }], store: true });
            }
          }, 5);
        },
      });
      await stored;
      const total = 6 + many;
      expect(run).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(
          new RegExp(
            `stored-completions copy: the target ${target} was written to during the copy \\(it holds ${(total + 1).toLocaleString('en-US')} completions and 0 deleted ids, the copy wrote ${total.toLocaleString('en-US')} and 0\\): ` +
              'a service is running on it\\. Stop every service on the target, empty it, and run the copy again\n$',
          ),
        ),
      });
    } finally {
      await busy.stop();
    }
    const again = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(again.stderr).toMatch(/holds an unfinished copy/);
  });

  it('copies into a database a service answered requests on but stored nothing in, and its keys then see the source\'s completions', async () => {
    await storeVariety(source, upstream);
    const target = join(folder, 'tried.db');
    const tried = await startService({ upstreamUrl: upstream.url, databasePath: target });
    try {
      // A list with a key (pass-through keys) makes the target's own secret: a setting, but no data.
      expect(await (await tried.request('/v1/chat/completions')).json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    } finally {
      await tried.stop();
    }
    const run = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /^the target's own key secret \(made by a service that answered a request there\) was replaced by the source's: restart any service running on the target, or its keys will not see the copied completions\ncopy: 6 completions, 0 deleted ids, 1 setting in /,
    );
    const copy = await startService({ upstreamUrl: upstream.url, databasePath: target });
    try {
      const path = '/v1/chat/completions?limit=100';
      expect(await (await copy.request(path)).text()).toBe(await (await source.request(path)).text());
    } finally {
      await copy.stop();
    }
  });

  it('copies into a database a service has only run its health check on (no data, only the check\'s mark)', async () => {
    await storeVariety(source, upstream);
    expect((await source.request('/healthz', { auth: false })).status).toBe(200);
    const target = join(folder, 'fresh.db');
    const fresh = await startService({ upstreamUrl: upstream.url, databasePath: target, env: { API_KEYS: `${DEFAULT_KEY}:team` } });
    try {
      expect((await fresh.request('/healthz', { auth: false })).status).toBe(200);
    } finally {
      await fresh.stop();
    }
    const run = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^copy: 6 completions, 0 deleted ids, 1 setting in /);
  });
});
