import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, request, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { createShutdown, FORCED_EXIT_MS } from '../src/lifecycle.ts';
import { createStopSignals, REPEATED_SIGNAL_MS } from '../src/stop-signals.ts';
import { createLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/index.ts';
import { deferred, SERVICE_ENTRY, startChildServer, type ChildServer } from './helpers/child-server.ts';
import { fakeCompletion, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';

let upstream: FakeUpstream;
let folder: string;
let databasePath: string;
let child: ChildServer | undefined;
/** Lets a held upstream response go; called in afterEach too, so nothing is left hanging. */
let releaseUpstream: () => void;

const KEY = 'sk-shutdown-test-0001';
const messages = [{ role: 'user', content: 'Take your time' }];

beforeEach(async () => {
  upstream = await startFakeUpstream();
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-shutdown-'));
  databasePath = join(folder, 'completions.db');
  releaseUpstream = () => {};
});

afterEach(async () => {
  releaseUpstream();
  if (child && child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  await child?.exited;
  child = undefined;
  await upstream.close();
  rmSync(folder, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<ChildServer> {
  child = await startChildServer({ databasePath, upstreamUrl: upstream.url, env: { API_KEYS: `${KEY}:team-a`, ...env } });
  return child;
}

/** Answers every upstream call with `answer`; resolves when the first one has arrived. */
function holdUpstream(answer: (json: Record<string, unknown>, res: ServerResponse) => Promise<void>): Promise<void> {
  const received = deferred();
  upstream.handler = async (req, res) => {
    received.resolve();
    await answer(req.json!, res);
  };
  return received.promise;
}

describe('npm start', () => {
  it('passes SIGTERM on to the service, which shuts down (npm signals its script shell, and the script execs node)', async () => {
    const started = await startChildServer({ databasePath, upstreamUrl: upstream.url, viaNpmStart: true });
    try {
      expect((await fetch(`${started.origin}/healthz`)).status).toBe(200);
      started.process.kill('SIGTERM');
      expect(await started.waitForLog('stopped')).toMatchObject({ msg: 'stopped' });
      expect(await started.exited).toEqual({ code: 0, signal: null });
      await expect(fetch(`${started.origin}/healthz`)).rejects.toThrow();
    } finally {
      // Whatever npm left behind (a server that never heard the signal) goes with its process group.
      try {
        process.kill(-started.process.pid!, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }
  }, 60_000);
});

describe('npm start stopped through its process group (Ctrl-C in a terminal, `kill %1` in a shell with job control)', () => {
  it('lets a create in flight finish: npm passes on the signal the service got too, and that copy is not a second signal', async () => {
    const started = await startChildServer({ databasePath, upstreamUrl: upstream.url, viaNpmStart: true, env: { API_KEYS: `${KEY}:team-a` } });
    try {
      const { inFlight } = await createHeldUntilCut(started.origin, 'chatcmpl-group-stop');
      // The whole group: npm and the service each get SIGTERM from the kernel, and npm then passes its own on.
      process.kill(-started.process.pid!, 'SIGTERM');
      await started.waitForLog('shutting down');
      await new Promise((resolve) => setTimeout(resolve, REPEATED_SIGNAL_MS + 250));
      releaseUpstream();
      const answered = await inFlight;
      expect(answered.status, await answered.text()).toBe(200);
      expect(await started.waitForLog('stopped')).toMatchObject({ msg: 'stopped' });
      expect(started.logs.map((line) => line.msg)).not.toContain('second stop signal: closing all connections now');
      const db = openDatabase(databasePath);
      try {
        expect((await createSqliteStore(db).getCompletion('team-a', 'chatcmpl-group-stop'))?.id).toBe('chatcmpl-group-stop');
      } finally {
        db.close();
      }
    } finally {
      try {
        process.kill(-started.process.pid!, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }
  }, 60_000);
});

function post(origin: string, body: unknown): Promise<Response> {
  return fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A store: true create the fake upstream answers only once released (after the test, here): resolves once the upstream has it. */
async function createHeldUntilCut(origin: string, id: string): Promise<{ inFlight: Promise<Response> }> {
  const release = deferred();
  releaseUpstream = () => release.resolve();
  const received = holdUpstream(async (json, res) => {
    await release.promise;
    if (!res.destroyed) res.end(JSON.stringify(fakeCompletion(json, id, 1_700_000_000)));
  });
  const inFlight = post(origin, { model: 'gpt-4o', messages, store: true });
  await received;
  return { inFlight };
}

/** A brand-new TCP connection (no pooled keep-alive one): how a new client would try. */
function connectFresh(origin: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${origin}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

/** A clean stop folds the WAL back into the database file. */
function expectCheckpointed(): void {
  const wal = `${databasePath}-wal`;
  expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
}

/**
 * A stored create sent on a raw connection, its provider call held, then SIGTERM: resolves once the service is
 * draining with that create in flight. `release` lets the provider answer; `answered` settles once its answer
 * is in, `closed` once the service has closed the connection.
 */
async function createInFlightOnSocket(server: ChildServer, id: string) {
  const release = deferred();
  releaseUpstream = () => release.resolve();
  const received = holdUpstream(async (json, res) => {
    await release.promise;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(fakeCompletion(json, id, 1_700_000_000)));
  });
  const socket = connect(Number(new URL(server.origin).port), '127.0.0.1');
  let text = '';
  const answered = deferred();
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    if (text.includes(`"id":"${id}"`)) answered.resolve();
  });
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  const body = JSON.stringify({ model: 'gpt-4o', messages, store: true });
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await received;
  server.process.kill('SIGTERM');
  await server.waitForLog('shutting down');
  return { socket, text: () => text, release: () => release.resolve(), answered: answered.promise, closed };
}

/** Two answers came on the connection, the second the health check's, which closed it; then the service exited 0. */
async function expectHealthzServedLast(server: ChildServer, responses: string[]): Promise<void> {
  expect(responses.map((r) => r.split('\r\n')[0])).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
  expect(responses[1]!.toLowerCase()).toContain('\r\nconnection: close\r\n');
  expect(responses[1]!.endsWith('\r\n\r\n{"status":"ok"}')).toBe(true);
  expect(await server.exited).toEqual({ code: 0, signal: null });
}

describe('shutdown on SIGTERM', () => {
  it('finishes and stores a slow create in flight, refuses new connections meanwhile, then exits 0 checkpointed', async () => {
    const server = await start();
    const release = deferred();
    releaseUpstream = () => release.resolve();
    const received = holdUpstream(async (json, res) => {
      await release.promise;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(fakeCompletion(json, 'chatcmpl-slow-1', 1_700_000_000)));
    });

    const inFlight = post(server.origin, { model: 'gpt-4o', messages, store: true, metadata: { kind: 'slow' } });
    await received;
    server.process.kill('SIGTERM');
    await server.waitForLog('shutting down');
    expect(await connectFresh(server.origin)).toBe('ECONNREFUSED');

    release.resolve();
    const res = await inFlight;
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toEqual(fakeCompletion({ model: 'gpt-4o', messages }, 'chatcmpl-slow-1', 1_700_000_000));
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.logs.map((line) => line.msg)).toEqual(['listening', 'shutting down', 'request', 'stopped']);
    expectCheckpointed();

    const db = openDatabase(databasePath);
    try {
      const stored = await createSqliteStore(db).getCompletion('team-a', 'chatcmpl-slow-1');
      expect(stored?.id).toBe('chatcmpl-slow-1');
      expect(JSON.parse(stored!.metadata)).toEqual({ kind: 'slow' });
      expect(JSON.parse(`[${stored!.choices}]`)).toEqual(fakeCompletion({ model: 'gpt-4o', messages }, 'x', 0).choices);
    } finally {
      db.close();
    }
  });

  it('serves a request that arrives during the drain on an open connection, then closes that connection', async () => {
    const server = await start();
    const held = await createInFlightOnSocket(server, 'chatcmpl-first');
    // Pipelined behind the create still in flight: it reaches the server only now, during the drain.
    held.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    held.release();
    await held.closed;

    const responses = held.text().split(/(?=HTTP\/1\.1 )/);
    expect(responses[0]).toContain('"id":"chatcmpl-first"');
    await expectHealthzServedLast(server, responses);
  });

  it('serves the next request on a connection kept alive past the answer in flight at the stop, within the keep-alive it advertised', async () => {
    const server = await start();
    const held = await createInFlightOnSocket(server, 'chatcmpl-kept');
    held.release();
    await held.answered;
    // The answer said the connection stays open (`Keep-Alive: timeout=5`): a client (an SDK's pool, a load balancer)
    // sends its next request on it a moment later. Swept shut by the drain, that request was reset, unanswered.
    expect(held.text().toLowerCase()).toContain('\r\nkeep-alive: timeout=5\r\n');
    await new Promise((resolve) => setTimeout(resolve, 400));
    held.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await held.closed;

    await expectHealthzServedLast(server, held.text().split(/(?=HTTP\/1\.1 )/));
  });

  it('lets an SSE response in flight stream to its end unchanged', async () => {
    const server = await start();
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-sse-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    const first = chunk({ role: 'assistant', content: '' }, null);
    const rest = [chunk({ content: 'Slow' }, null), chunk({ content: ' answer' }, null), chunk({}, 'stop'), 'data: [DONE]\n\n'];
    const release = deferred();
    releaseUpstream = () => release.resolve();
    const received = holdUpstream(async (_json, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(first);
      await release.promise;
      for (const part of rest) res.write(part);
      res.end();
    });

    const inFlight = post(server.origin, { model: 'gpt-4o', messages, stream: true });
    await received;
    server.process.kill('SIGTERM');
    await server.waitForLog('shutting down');
    release.resolve();

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe([first, ...rest].join(''));
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expectCheckpointed();
  });

  it('cuts a request still running after SHUTDOWN_GRACE_MS (on SIGINT too) and still exits 0', async () => {
    const server = await start({ SHUTDOWN_GRACE_MS: '200' });
    const { inFlight } = await createHeldUntilCut(server.origin, 'chatcmpl-too-slow');
    server.process.kill('SIGINT');
    await expect(inFlight).rejects.toThrow('fetch failed');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // Whether the cut request's own line makes it out before the exit is a race, and beside the point here.
    expect(server.logs.map((line) => line.msg).filter((msg) => msg !== 'request')).toEqual([
      'listening',
      'shutting down',
      'grace period over: closing the connections still open',
      'stopped',
    ]);
    expectCheckpointed();

    const db = openDatabase(databasePath);
    try {
      expect(await createSqliteStore(db).getCompletion('team-a', 'chatcmpl-too-slow')).toBeUndefined();
    } finally {
      db.close();
    }
  });
});

/** How the child ended, or 'still running' if it has not within `ms`. */
function exitWithin(server: ChildServer, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  return Promise.race([server.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);
}

describe('a second stop signal', () => {
  it('cuts the requests in flight at once and exits 0', async () => {
    const server = await start();
    const { inFlight } = await createHeldUntilCut(server.origin, 'chatcmpl-cut');
    server.process.kill('SIGTERM');
    await server.waitForLog('shutting down');
    // Later than the same signal delivered twice (REPEATED_SIGNAL_MS): a second signal of its own.
    await new Promise((resolve) => setTimeout(resolve, REPEATED_SIGNAL_MS + 50));
    server.process.kill('SIGTERM');
    await expect(inFlight).rejects.toThrow('fetch failed');
    expect(await exitWithin(server, 5_000)).toEqual({ code: 0, signal: null });
    expect(server.logs.map((line) => line.msg).filter((msg) => msg !== 'request')).toEqual([
      'listening',
      'shutting down',
      'second stop signal: closing all connections now',
      'stopped',
    ]);
  });

  it('exits 1 when releasing the database has not finished FORCED_EXIT_MS later', async () => {
    const server = createServer((_req, res) => res.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const exited = deferred<number>();
    const codes: number[] = [];
    const shutdown = createShutdown({
      server,
      graceMs: 30_000,
      logger: createLogger('silent'),
      // A database that never answers.
      release: () => new Promise<void>(() => {}),
      exit: (code) => {
        codes.push(code);
        exited.resolve(code);
      },
    });
    const startedAt = Date.now();
    shutdown('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, REPEATED_SIGNAL_MS + 50));
    expect(codes).toEqual([]);
    shutdown('SIGTERM');
    expect(await exited.promise).toBe(1);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(FORCED_EXIT_MS);
    expect(Date.now() - startedAt).toBeLessThan(FORCED_EXIT_MS + 2_000);
    expect(codes).toEqual([1]);
  });
});

describe('telling stop signals apart', () => {
  it('takes the first signal again within REPEATED_SIGNAL_MS as the same stop, and any later or other signal as a second', () => {
    let now = 1_000;
    const kindOf = createStopSignals(() => now);
    expect(kindOf('SIGINT')).toBe('first');
    now += 1;
    expect(kindOf('SIGINT')).toBe('repeat');
    now += REPEATED_SIGNAL_MS - 2;
    expect(kindOf('SIGINT')).toBe('repeat');
    expect(kindOf('SIGTERM')).toBe('second');
    now += 1;
    expect(kindOf('SIGINT')).toBe('second');
    expect(kindOf('SIGINT')).toBe('second');
  });
});

describe('stdout whose reader is gone', () => {
  it('exits 0 on SIGTERM (it used to retry the lost log line every 100 ms, never exiting)', async () => {
    // In memory, the stop releases the database within a few milliseconds: 'stopped' is logged while the write of
    // 'shutting down' has not failed yet, which is what pino's stream retried at exit.
    const server = await start({ DATABASE_URL: ':memory:' });
    // The test's end of the pipe: a log shipper or `| head` that has gone away.
    server.process.stdout!.destroy();
    // Not logged at info: the first line lost is 'shutting down'.
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    server.process.kill('SIGTERM');
    expect(await exitWithin(server, 5_000)).toEqual({ code: 0, signal: null });
  });

  it('goes on serving logged requests, then exits 0 on SIGTERM', async () => {
    const server = await start();
    upstream.handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(fakeCompletion(req.json!, 'chatcmpl-unlogged', 1_700_000_000)));
    };
    server.process.stdout!.destroy();
    const created = await post(server.origin, { model: 'gpt-4o', messages, store: true });
    expect(created.status, await created.text()).toBe(200);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.origin}/v1/chat/completions/chatcmpl-unlogged`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(res.status, await res.text()).toBe(200);
    }
    server.process.kill('SIGTERM');
    expect(await exitWithin(server, 5_000)).toEqual({ code: 0, signal: null });
    expectCheckpointed();
  });
});

describe('stdout whose reader is slow', () => {
  it('serves on while the pipe is full, and every line comes out whole once it is read again', async () => {
    const server = await start();
    const stdout = server.process.stdout!;
    stdout.pause();
    // About 200 bytes a line: several times what the pipe and the test's read buffer hold, so the service meets a full pipe.
    const requests = 1_000;
    let sent = 0;
    const worker = async () => {
      while (sent < requests) {
        sent++;
        const res = await fetch(`${server.origin}/v1/chat/completions?limit=1`, { headers: { authorization: `Bearer ${KEY}` } });
        expect(res.status, await res.text()).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const linesBefore = server.logs.length;
    stdout.resume();
    server.process.kill('SIGTERM');
    expect(await exitWithin(server, 5_000)).toEqual({ code: 0, signal: null });
    // Whatever was read before the pause can only be a few lines: the rest were held, and written in the end.
    expect(linesBefore).toBeLessThan(requests / 2);
    const lines = server.logs.map((line) => line.msg);
    expect(lines.filter((msg) => msg === 'request')).toHaveLength(requests);
    expect(lines.filter((msg) => msg !== 'request')).toEqual(['listening', 'shutting down', 'stopped']);
    expect(server.logs.filter((line) => line.msg === 'request').every((line) => line.status === 200 && typeof line.requestId === 'string')).toBe(true);
  });
});

/**
 * The service on a terminal (a pty) that nobody reads, as under Ctrl-S, a stalled ssh session or a pty
 * supervisor that stopped reading. Node has no pty of its own: Python's `pty` module makes one, starts
 * the service on it, never reads it, sends 1,500 logged requests and a SIGTERM, and prints what happened.
 */
const PTY_SCRIPT = `
import os, pty, signal, socket, subprocess, sys, time, urllib.request
port, entry = int(sys.argv[1]), sys.argv[2]
master, slave = pty.openpty()
env = {"PATH": os.environ["PATH"], "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": ":memory:", "LOG_LEVEL": "info"}
child = subprocess.Popen([sys.argv[3], entry], stdout=slave, stdin=subprocess.DEVNULL, env=env)
os.close(slave)
for _ in range(150):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
served = 0
for _ in range(1500):
    try:
        request = urllib.request.Request("http://127.0.0.1:%d/v1/chat/completions?limit=1" % port, headers={"Authorization": "Bearer sk-tty"})
        served += urllib.request.urlopen(request, timeout=3).status == 200
    except Exception:
        break
child.send_signal(signal.SIGTERM)
try:
    code = child.wait(timeout=5)
except subprocess.TimeoutExpired:
    code = "still running"
    child.kill()
print("served %d, exit %s" % (served, code))
`;

const pythonAvailable = spawnSync('python3', ['--version']).status === 0;

describe.skipIf(!pythonAvailable)('stdout on a terminal nobody reads', () => {
  it('goes on serving logged requests, and exits 0 on SIGTERM (a terminal is left blocking by Node: write() stopped the service)', async () => {
    const port = await freePort();
    const python = spawn('python3', ['-c', PTY_SCRIPT, String(port), SERVICE_ENTRY, process.execPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    python.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await once(python, 'exit');
    expect(output).toBe('served 1500, exit 0\n');
  }, 60_000);
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
