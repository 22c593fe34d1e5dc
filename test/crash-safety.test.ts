import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startChildServer, stopChildren, type ChildServer } from './helpers/child-server.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { storedCompletion } from './helpers/stored-shape.ts';

let upstream: FakeUpstream;
let folder: string;
let databasePath: string;
const children: ChildServer[] = [];

beforeEach(async () => {
  upstream = await startFakeUpstream();
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-crash-'));
  databasePath = join(folder, 'completions.db');
});

afterEach(async () => {
  await stopChildren(children.splice(0));
  await upstream.close();
  rmSync(folder, { recursive: true, force: true });
});

const KEY = 'sk-crash-test-0001';
const ROUNDS = 3;
const WORKERS = 12;
/** Acknowledged creates per round before the kill: the kill lands while the other workers' requests are in flight. */
const ACKS_BEFORE_KILL = 80;

/** A create the service answered 200: what was sent and what came back. */
interface Acknowledged {
  messages: { role: string; content: string }[];
  metadata: Record<string, string>;
  requestId: string;
  response: Record<string, unknown>;
}

async function start(): Promise<ChildServer> {
  const child = await startChildServer({ databasePath, upstreamUrl: upstream.url });
  children.push(child);
  return child;
}

function authorized(init: RequestInit = {}): RequestInit {
  return { ...init, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' } };
}

/**
 * Concurrent `store: true` creates until the server dies under them. Each
 * worker sends one request at a time; only 200s are recorded, since only
 * they promise anything.
 */
async function storm(child: ChildServer, round: number, acknowledged: Acknowledged[]): Promise<void> {
  let acksThisRound = 0;
  let killed = false;
  const worker = async (w: number) => {
    for (let n = 0; ; n++) {
      const messages = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: `round ${round} worker ${w} request ${n}: ${'x'.repeat((n * 37) % 500)}` },
      ];
      const metadata = { round: String(round), worker: String(w), n: String(n) };
      let res: Response;
      try {
        res = await fetch(`${child.origin}/v1/chat/completions`, authorized({
          method: 'POST',
          body: JSON.stringify({ model: 'gpt-4o', messages, store: true, metadata }),
        }));
      } catch {
        return; // the server is gone: this request was never acknowledged
      }
      let body: Record<string, unknown>;
      try {
        body = (await res.json()) as Record<string, unknown>;
      } catch {
        return; // cut mid-body: a response not fully received is not an acknowledgement
      }
      expect(res.status, JSON.stringify(body)).toBe(200);
      acknowledged.push({ messages, metadata, requestId: res.headers.get('x-request-id')!, response: body });
      if (++acksThisRound === ACKS_BEFORE_KILL && !killed) {
        killed = true;
        child.process.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

/** Every acknowledged create is served back exactly: the stored completion and its input messages. */
async function expectAllStored(child: ChildServer, acknowledged: Acknowledged[]): Promise<void> {
  const queue = [...acknowledged];
  await Promise.all(Array.from({ length: 8 }, () => verifyNext(child, queue)));
}

async function verifyNext(child: ChildServer, queue: Acknowledged[]): Promise<void> {
  for (let ack = queue.shift(); ack; ack = queue.shift()) {
    const id = ack.response.id as string;
    const res = await fetch(`${child.origin}/v1/chat/completions/${id}`, authorized());
    const stored = await res.json();
    expect(res.status, JSON.stringify(stored)).toBe(200);
    expect(stored).toEqual(storedCompletion(ack.response, ack.requestId, { metadata: ack.metadata }));
    const messagesRes = await fetch(`${child.origin}/v1/chat/completions/${id}/messages`, authorized());
    const messages = (await messagesRes.json()) as { data: unknown[] };
    expect(messagesRes.status).toBe(200);
    expect(messages.data).toEqual(
      ack.messages.map((m, i) => ({ id: `${id}-${i}`, role: m.role, content: m.content, name: null, refusal: null, content_parts: null })),
    );
  }
}

function expectIntact(): void {
  const db = new Database(databasePath, { readonly: true });
  try {
    expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(db.pragma('foreign_key_check')).toEqual([]);
  } finally {
    db.close();
  }
}

describe('crash safety', () => {
  it('keeps every acknowledged create across repeated SIGKILLs mid-storm, and the database stays intact', { timeout: 90_000 }, async () => {
    const acknowledged: Acknowledged[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const child = await start();
      await expectAllStored(child, acknowledged);
      const before = acknowledged.length;
      await storm(child, round, acknowledged);
      expect(acknowledged.length - before).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);
      expectIntact();
    }

    const last = await start();
    await expectAllStored(last, acknowledged);
    const list = await fetch(`${last.origin}/v1/chat/completions?limit=100&metadata[round]=0`, authorized());
    const roundZero = acknowledged.filter((a) => a.metadata.round === '0').map((a) => a.response.id);
    const listed = ((await list.json()) as { data: { id: string }[] }).data.map((c) => c.id);
    // A create may have committed just before the kill without its 200 reaching the client: listed may hold more, never fewer.
    expect(listed).toEqual(expect.arrayContaining(roundZero));
    last.process.kill('SIGTERM');
    expect(await last.exited).toEqual({ code: 0, signal: null });
    expectIntact();
  });
});
