import type { APIError } from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { sendJson, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, startService, type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

const messages = [{ role: 'user' as const, content: 'Hello there' }];

/** The sample lines of one metric family, without HELP/TYPE comments. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('get /healthz', () => {
  it('returns 200 {"status":"ok"} without a key', async () => {
    const res = await service.request('/healthz', { auth: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('returns 503 {"status":"unavailable"} with the reason when the database does not answer', async () => {
    service.db.close();
    const res = await service.request('/healthz', { auth: false });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable', reason: 'the database cannot take a write (The database connection is not open)' });
  });
});

describe('get /metrics', () => {
  it('serves Prometheus text without a key, labelled by route pattern, never by raw path', async () => {
    const client = service.client();
    const created = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true });
    expect((await service.request(`/v1/chat/completions/${created.id}`)).status).toBe(200);
    expect((await service.request('/v1/chat/completions/chatcmpl-missing')).status).toBe(404);
    expect((await service.request('/v1/chat/completions', { key: 'sk-other' })).status).toBe(200);
    expect((await service.request('/v1/chat/completions', { auth: false })).status).toBe(401);
    expect((await service.request('/nowhere/at/all', { auth: false })).status).toBe(404);

    const res = await service.request('/metrics', { auth: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();

    expect(samples(text, 'http_requests_total')).toEqual([
      'http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1',
      'http_requests_total{method="GET",route="/v1/chat/completions/:id",status="200"} 1',
      'http_requests_total{method="GET",route="/v1/chat/completions/:id",status="404"} 1',
      'http_requests_total{method="GET",route="/v1/chat/completions",status="200"} 1',
      'http_requests_total{method="GET",route="/v1/chat/completions",status="401"} 1',
      'http_requests_total{method="GET",route="unmatched",status="404"} 1',
    ]);
    expect(samples(text, 'http_request_duration_seconds_count')).toEqual([
      'http_request_duration_seconds_count{method="POST",route="/v1/chat/completions",status="200"} 1',
      'http_request_duration_seconds_count{method="GET",route="/v1/chat/completions/:id",status="200"} 1',
      'http_request_duration_seconds_count{method="GET",route="/v1/chat/completions/:id",status="404"} 1',
      'http_request_duration_seconds_count{method="GET",route="/v1/chat/completions",status="200"} 1',
      'http_request_duration_seconds_count{method="GET",route="/v1/chat/completions",status="401"} 1',
      'http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1',
    ]);
    expect(samples(text, 'upstream_request_duration_seconds_count')).toEqual(['upstream_request_duration_seconds_count{status="200"} 1']);
    expect(samples(text, 'stored_completions_written_total')).toEqual(['stored_completions_written_total 1']);
    expect(samples(text, 'database_errors_total')).toEqual([]);
    expect(samples(text, 'retention_deleted_completions_total')).toEqual(['retention_deleted_completions_total 0']);
    expect(text).not.toContain(created.id);
    expect(text).not.toContain('chatcmpl-missing');
    expect(text).not.toContain('nowhere');
  });

  it('counts an unreachable upstream as status "error" and a failing database by operation', async () => {
    await upstream.close();
    const unreachable = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages }),
    });
    expect(unreachable.status).toBe(502);
    service.db.close();
    expect((await service.request('/healthz', { auth: false })).status).toBe(503);

    const text = await (await service.request('/metrics', { auth: false })).text();
    expect(samples(text, 'upstream_request_duration_seconds_count')).toEqual(['upstream_request_duration_seconds_count{status="error"} 1']);
    expect(samples(text, 'database_errors_total')).toEqual(['database_errors_total{operation="checkWritable"} 1']);
    upstream = await startFakeUpstream();
  });

  it('keeps each app on its own registry', async () => {
    await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true });
    const other = await startService({ upstreamUrl: upstream.url });
    try {
      const text = await (await other.request('/metrics', { auth: false })).text();
      expect(samples(text, 'stored_completions_written_total')).toEqual(['stored_completions_written_total 0']);
      expect(samples(text, 'http_requests_total')).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('request logs', () => {
  it('writes one JSON line per request with id, method, route, status and duration, and never a key or a message', async () => {
    const lines: string[] = [];
    const logged = await startService({
      upstreamUrl: upstream.url,
      env: { API_KEYS: 'sk-live-secret-0123456789:team-a' },
      logger: createLogger('info', { write: (line: string) => void lines.push(line) }),
    });
    const secretContent = 'my card number is 4111-1111-1111-1111';
    upstream.handler = (request, res) => {
      // A provider whose error echoes the input: the text must still not reach the log.
      sendJson(res, 400, { error: { message: `rejected: ${JSON.stringify(request.json)}`, type: 'invalid_request_error', param: null, code: null } });
    };
    try {
      const client = logged.client('sk-live-secret-0123456789');
      const failed = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: secretContent }], store: true, metadata: { user: 'alice@example.com' } })
        .then(
          () => expect.fail('the provider refused this request'),
          (err: unknown) => err as APIError,
        );
      expect(failed.status).toBe(400);
      const wrongKey = await logged.request('/v1/chat/completions?metadata[user]=alice@example.com', { key: 'sk-wrong-secret-9876543210' });
      expect(wrongKey.status).toBe(401);

      const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(parsed).toEqual([
        {
          level: 30,
          time: expect.any(String),
          requestId: failed.requestID,
          method: 'POST',
          route: '/v1/chat/completions',
          status: 400,
          durationMs: expect.any(Number),
          msg: 'request',
        },
        {
          level: 30,
          time: expect.any(String),
          requestId: wrongKey.headers.get('x-request-id'),
          method: 'GET',
          route: '/v1/chat/completions',
          status: 401,
          durationMs: expect.any(Number),
          msg: 'request',
        },
      ]);
      const all = lines.join('');
      for (const secret of ['sk-live-secret', 'sk-wrong-secret', '4111', 'alice@example.com', 'authorization', 'Bearer']) {
        expect(all).not.toContain(secret);
      }
    } finally {
      await logged.close();
    }
  });

  it('logs and counts a request whose client went away before its answer as aborted, status 499, not the 502 it never sent', async () => {
    let logged!: () => void;
    const lineWritten = new Promise<void>((resolve) => {
      logged = resolve;
    });
    const lines: string[] = [];
    const service2 = await startService({
      upstreamUrl: upstream.url,
      logger: createLogger('info', {
        write: (line: string) => {
          lines.push(line);
          logged();
        },
      }),
    });
    let received!: () => void;
    const upstreamReached = new Promise<void>((resolve) => {
      received = resolve;
    });
    upstream.handler = (_request, res) => {
      received();
      res.on('close', () => res.destroy());
    };
    try {
      const abort = new AbortController();
      const inFlight = service2.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages }),
        signal: abort.signal,
      });
      await upstreamReached;
      abort.abort();
      await expect(inFlight).rejects.toThrow();
      await lineWritten;
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
        {
          level: 30,
          time: expect.any(String),
          requestId: expect.stringMatching(/^req_[0-9a-f]{32}$/),
          method: 'POST',
          route: '/v1/chat/completions',
          status: 499,
          durationMs: expect.any(Number),
          aborted: true,
          msg: 'request',
        },
      ]);
      const metrics = await (await service2.request('/metrics', { auth: false })).text();
      expect(samples(metrics, 'http_requests_total')).toEqual(['http_requests_total{method="POST",route="/v1/chat/completions",status="499"} 1']);
    } finally {
      await service2.close();
    }
  });

  it("logs a provider's body that breaks midway as aborted with the status it sent, and writes nothing outside the log", async () => {
    const lines: Record<string, unknown>[] = [];
    const logged = await startService({
      upstreamUrl: upstream.url,
      logger: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }),
    });
    // The adapter's own report of a body that errored went to the console, outside the JSON log, as a stack trace.
    const consoleError = vi.spyOn(console, 'error');
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":"chatcmpl-cut","object":"chat.completion",', () => res.socket!.destroy());
    };
    try {
      // An unstored stream a provider answered with one JSON document, and a pass-through route: both hand the body on as it comes.
      const unstored = await logged.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true }),
      });
      expect(unstored.status).toBe(200);
      await expect(unstored.text()).rejects.toThrow();
      const passedThrough = await logged.request('/v1/files/file-1/content');
      expect(passedThrough.status).toBe(200);
      await expect(passedThrough.text()).rejects.toThrow();
      await vi.waitFor(() => expect(lines).toHaveLength(2));
      expect(lines.map(({ method, route, status, aborted }) => ({ method, route, status, aborted }))).toEqual([
        { method: 'POST', route: '/v1/chat/completions', status: 200, aborted: true },
        { method: 'GET', route: '/v1/*', status: 200, aborted: true },
      ]);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
      await logged.close();
    }
  });

  it('logs /healthz and /metrics at debug only, so polling does not flood the log', async () => {
    const lines: string[] = [];
    const logged = await startService({ upstreamUrl: upstream.url, logger: createLogger('info', { write: (line: string) => void lines.push(line) }) });
    try {
      expect((await logged.request('/healthz', { auth: false })).status).toBe(200);
      expect((await logged.request('/metrics', { auth: false })).status).toBe(200);
      expect(lines).toEqual([]);
    } finally {
      await logged.close();
    }
  });
});
