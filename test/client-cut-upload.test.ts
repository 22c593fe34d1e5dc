import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';

/**
 * A client that cuts its upload midway on a passed-through route (a file, an audio upload): the body
 * streamed to the provider fails midway, and the process must go on serving (Node ends a process on an
 * unhandled rejection, which is where such a failure would surface). The real process, as in production.
 */
describe('a client cutting its upload midway', () => {
  let folder: string;
  let upstream: FakeUpstream;
  let server: ChildServer | undefined;
  beforeEach(async () => {
    folder = mkdtempSync(join(tmpdir(), 'cut-upload-'));
    upstream = await startFakeUpstream();
  });
  afterEach(async () => {
    if (server) await stopChildren([server]);
    server = undefined;
    await upstream.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('on a passed-through route, three times over, leaves the service serving', async () => {
    server = await startChildServer({ databasePath: join(folder, 'c.db'), upstreamUrl: upstream.url });
    const { port } = new URL(server.origin);
    let exited = false;
    void server.exited.then(() => (exited = true));
    for (let i = 0; i < 3; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      socket.on('data', () => {});
      socket.on('error', () => {});
      const chunk = 'x'.repeat(100);
      socket.write(`POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-k\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(exited).toBe(false);
    const live = await fetch(`${server.origin}/livez`);
    expect({ status: live.status, body: await live.json() }).toEqual({ status: 200, body: { status: 'ok' } });
  }, 30_000);
});
