import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maskKey } from '../src/auth.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startChildServer, stopChildren } from './helpers/child-server.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { startService, type Service } from './helpers/service.ts';

const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

const NO_KEY = { error: { message: NO_KEY_MESSAGE, type: 'invalid_request_error', param: null, code: null } };

function wrongKey(masked: string) {
  return {
    error: {
      message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    },
  };
}

const messages = [{ role: 'user' as const, content: 'Hello' }];
const jsonHeaders = { 'content-type': 'application/json' };

/** Every /v1 route, including one the service does not serve itself, with a body it would otherwise accept. */
const ROUTES: { name: string; path: string; init: RequestInit }[] = [
  { name: 'create', path: '/v1/chat/completions', init: { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ model: 'gpt-4o', messages, store: true }) } },
  { name: 'create with a body that is not JSON', path: '/v1/chat/completions', init: { method: 'POST', headers: jsonHeaders, body: '{nope' } },
  { name: 'list', path: '/v1/chat/completions?limit=2&metadata[a]=b', init: {} },
  { name: 'retrieve', path: '/v1/chat/completions/chatcmpl-x', init: {} },
  { name: 'update', path: '/v1/chat/completions/chatcmpl-x', init: { method: 'POST', headers: jsonHeaders, body: JSON.stringify({ metadata: { a: 'b' } }) } },
  { name: 'delete', path: '/v1/chat/completions/chatcmpl-x', init: { method: 'DELETE' } },
  { name: 'messages', path: '/v1/chat/completions/chatcmpl-x/messages', init: {} },
  { name: 'another /v1 route', path: '/v1/models', init: {} },
  { name: 'an unknown /v1 path', path: '/v1/nothing/here', init: { method: 'PUT', body: 'x' } },
];

/** Authorization headers that carry no bearer key; undefined means no header at all. */
const NO_KEY_HEADERS: (string | undefined)[] = [
  undefined,
  '',
  'Bearer',
  'Bearer ',
  'Basic dXNlcjpwYXNzd29yZA==',
  'Token sk-abc',
  'sk-just-the-key-no-scheme',
  'Bearersk-no-space',
];

let upstream: FakeUpstream;
const services: Service[] = [];

beforeEach(async () => {
  upstream = await startFakeUpstream();
});

afterEach(async () => {
  for (const service of services.splice(0)) await service.close();
  await upstream.close();
});

async function start(env: Record<string, string> = {}): Promise<Service> {
  const service = await startService({ upstreamUrl: upstream.url, env });
  services.push(service);
  return service;
}

function count(service: Service, table: string): number {
  return (service.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** Nothing reached the provider and nothing was written: no project, no completion. */
function expectNoWork(service: Service): void {
  expect(upstream.received).toEqual([]);
  expect(count(service, 'projects')).toBe(0);
  expect(count(service, 'completions')).toBe(0);
}

describe('maskKey', () => {
  it('shows a short prefix and the last four characters, the rest as *', () => {
    expect(maskKey('sk-abcdefghijklmnopqrstuvwxyz')).toBe(`sk-ab${'*'.repeat(20)}wxyz`);
    expect(maskKey('sk-proj-0123456789abcdef')).toBe(`sk-pr${'*'.repeat(15)}cdef`);
  });

  it('stars every hidden character of a key as long as a project key, and at most 200 of a longer one', () => {
    const projectKey = `sk-proj-${'a'.repeat(152)}wxyz`;
    expect(maskKey(projectKey)).toBe(`sk-pr${'*'.repeat(155)}wxyz`);
    expect(maskKey(`sk-ab${'c'.repeat(200)}wxyz`)).toBe(`sk-ab${'*'.repeat(200)}wxyz`);
    expect(maskKey(`sk-ab${'c'.repeat(201)}wxyz`)).toBe(`sk-ab${'*'.repeat(200)}wxyz`);
    expect(maskKey(`sk-ab${'c'.repeat(11_991)}wxyz`)).toBe(`sk-ab${'*'.repeat(200)}wxyz`);
  });

  it('always hides at least four characters, and stars a key of 8 characters or fewer entirely', () => {
    expect(maskKey('123456789')).toBe('1****6789');
    expect(maskKey('1234567890')).toBe('12****7890');
    expect(maskKey('12345678')).toBe('********');
    expect(maskKey('abc')).toBe('***');
    expect(maskKey('')).toBe('');
  });
});

describe.each<{ mode: string; env: Record<string, string> }>([
  { mode: 'pass-through mode', env: {} },
  { mode: 'API_KEYS mode', env: { API_KEYS: 'sk-good-key-000000000001:alpha' } },
])('no or malformed Authorization in $mode', ({ env }) => {
  for (const header of NO_KEY_HEADERS) {
    it(`answers 401 with OpenAI's text on every /v1 route for ${JSON.stringify(header)}, before any upstream or database work`, async () => {
      const service = await start(env);
      for (const route of ROUTES) {
        const headers = new Headers(route.init.headers);
        if (header !== undefined) headers.set('authorization', header);
        const res = await service.request(route.path, { ...route.init, headers, auth: false });
        expect(res.status, `${route.name}: ${await res.clone().text()}`).toBe(401);
        expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
        const body = await res.json();
        expect(body, route.name).toEqual(NO_KEY);
        assertMatchesSchema('ErrorResponse', body);
      }
      expectNoWork(service);
    });
  }

  it('refuses a body over the limit with 401, not 413, when there is no key', async () => {
    const service = await start({ ...env, BODY_LIMIT_BYTES: '1024' });
    const res = await service.request('/v1/chat/completions', { method: 'POST', headers: jsonHeaders, body: 'x'.repeat(5000), auth: false });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(NO_KEY);
    expectNoWork(service);
  });

  it('the official client surfaces it as an AuthenticationError', async () => {
    const service = await start(env);
    // The client refuses to start without a key, so the header it builds is removed instead.
    const client = new OpenAI({ apiKey: 'unused', baseURL: service.baseURL, maxRetries: 0, defaultHeaders: { authorization: null } });
    const error = await client.chat.completions.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).error).toEqual(NO_KEY.error);
    expectNoWork(service);
  });
});

describe('API_KEYS mode', () => {
  const env = {
    API_KEYS: 'sk-alice-0000000000000001:alpha, sk-alice-0000000000000002:alpha,sk-bob-00000000000000003:beta',
    UPSTREAM_API_KEY: 'sk-upstream-secret',
  };

  it('refuses an unknown key on every /v1 route with invalid_api_key and the key masked, before any work', async () => {
    const service = await start(env);
    const presented = [
      ['sk-mallory-000000000000009', `sk-ma${'*'.repeat(17)}0009`],
      // A configured key's prefix, or a configured key with more after it, is just another wrong key.
      ['sk-alice-000000000000000', `sk-al${'*'.repeat(15)}0000`],
      ['sk-alice-00000000000000011', `sk-al${'*'.repeat(17)}0011`],
      // Everything after the scheme is the key, as OpenAI reads it: a configured key and more is a wrong key, not none.
      ['sk-alice-0000000000000001 extra', `sk-al${'*'.repeat(22)}xtra`],
      ['short', '*****'],
      ['sk-upstream-secret', `sk-up${'*'.repeat(9)}cret`],
      // 12,000 characters: the answer stays a few hundred bytes, not 12 KB of stars.
      [`sk-long${'0'.repeat(11_989)}9999`, `sk-lo${'*'.repeat(200)}9999`],
      // UTF-8 sent as it is (a header's bytes, here as the Latin-1 text fetch writes byte for byte): masked as typed,
      // not as Node's Latin-1 reading of it (`sk-Ã¥*`); bytes that are no UTF-8 are masked as read.
      [Buffer.from('sk-ålice-key-0001', 'utf8').toString('latin1'), `sk-ål${'*'.repeat(8)}0001`],
      ['sk-\xe5lice-key-0001', `sk-\xe5l${'*'.repeat(8)}0001`],
      // Masked by characters: an emoji (two UTF-16 units) is kept whole or starred whole, never cut in half.
      [Buffer.from('sk-a😀😀😀😀😀😀😀😀', 'utf8').toString('latin1'), `sk-a${'*'.repeat(4)}😀😀😀😀`],
    ];
    for (const [key, masked] of presented) {
      for (const route of ROUTES) {
        const res = await service.request(route.path, { ...route.init, key });
        expect(res.status, route.name).toBe(401);
        const body = await res.json();
        expect(body, `${route.name} with ${key}`).toEqual(wrongKey(masked!));
        assertMatchesSchema('ErrorResponse', body);
      }
    }
    expectNoWork(service);
  });

  it('calls the upstream with UPSTREAM_API_KEY, never with the client key', async () => {
    const service = await start(env);
    const clientKey = 'sk-alice-0000000000000001';
    await service.client(clientKey).chat.completions.create({ model: 'gpt-4o', messages, store: true });
    await service.client('sk-bob-00000000000000003').chat.completions.create({ model: 'gpt-4o', messages });
    expect(upstream.received).toHaveLength(2);
    for (const received of upstream.received) {
      expect(received.headers.authorization).toBe('Bearer sk-upstream-secret');
      expect(JSON.stringify(received)).not.toContain('sk-alice');
      expect(JSON.stringify(received)).not.toContain('sk-bob');
    }
  });

  it('sends no Authorization upstream when UPSTREAM_API_KEY is unset', async () => {
    const service = await start({ API_KEYS: env.API_KEYS });
    await service.client('sk-alice-0000000000000001').chat.completions.create({ model: 'gpt-4o', messages });
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(upstream.received[0])).not.toContain('sk-alice');
  });

  it('lets several keys share a project and names the project as configured', async () => {
    const service = await start(env);
    const created = await service.client('sk-alice-0000000000000001').chat.completions.create({ model: 'gpt-4o', messages, store: true });
    const seen = await service.client('sk-alice-0000000000000002').chat.completions.retrieve(created.id);
    expect(seen.id).toBe(created.id);
    expect(service.db.prepare('SELECT name FROM projects').all()).toEqual([{ name: 'alpha' }]);
  });

  it('reads keys from API_KEYS_FILE, with comments, blank lines and CRLF, merged with API_KEYS', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'api-keys-'));
    try {
      const file = join(folder, 'keys.txt');
      writeFileSync(file, '# team keys\r\nsk-file-key-0000000000001:gamma\r\n\r\n  sk-file-key-0000000000002 : gamma  \r\n');
      const service = await start({ API_KEYS: 'sk-env-key-00000000000001:delta', API_KEYS_FILE: file });
      const created = await service.client('sk-file-key-0000000000001').chat.completions.create({ model: 'gpt-4o', messages, store: true });
      expect((await service.client('sk-file-key-0000000000002').chat.completions.retrieve(created.id)).id).toBe(created.id);
      const envKey = service.client('sk-env-key-00000000000001');
      expect((await envKey.chat.completions.list()).data).toEqual([]);
      const wrong = await service.client('sk-file-key-0000000000003').chat.completions.list().catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('API_KEYS parsing', () => {
  const base = { DATABASE_URL: ':memory:' };

  it('refuses a key listed for two projects, in API_KEYS or across API_KEYS and API_KEYS_FILE', () => {
    expect(() => loadConfig({ ...base, API_KEYS: 'sk-a-1:one,sk-a-1:two' })).toThrow(
      new ConfigError("API_KEYS: a key is listed for two projects ('one' and 'two')"),
    );
    const folder = mkdtempSync(join(tmpdir(), 'api-keys-'));
    try {
      const file = join(folder, 'keys.txt');
      writeFileSync(file, 'sk-a-1:two\n');
      expect(() => loadConfig({ ...base, API_KEYS: 'sk-a-1:one', API_KEYS_FILE: file })).toThrow(
        new ConfigError("API_KEYS_FILE: a key is listed for two projects ('one' and 'two')"),
      );
      // The same pair twice is harmless.
      writeFileSync(file, 'sk-a-1:one\n');
      expect(loadConfig({ ...base, API_KEYS: 'sk-a-1:one', API_KEYS_FILE: file }).apiKeys).toEqual(new Map([['sk-a-1', 'one']]));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('refuses entries without a key or project, keys with spaces, and a list with no pairs, without echoing keys', () => {
    expect(() => loadConfig({ ...base, API_KEYS: 'sk-secret-1' })).toThrow(
      new ConfigError('API_KEYS: expected key:project pairs, got an entry without a key or project'),
    );
    expect(() => loadConfig({ ...base, API_KEYS: ':alpha' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, API_KEYS: 'sk-secret-1:' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, API_KEYS: 'sk secret:alpha' })).toThrow(new ConfigError('API_KEYS: a key contains whitespace'));
    expect(() => loadConfig({ ...base, API_KEYS: ' , ,# only a comment' })).toThrow(new ConfigError('API_KEYS: no key:project pairs found'));
  });

  it('refuses a key with a character no client could send as written (zero-width space, past U+00FF, control)', () => {
    const refused = new ConfigError('API_KEYS: a key has a character no client could send as written (a control character, an invisible one, or one past U+00FF)');
    for (const key of ['sk-zero\u200bwidth', 'sk-\u0100', 'sk-bell\u0007', 'sk-del\u007f', 'sk-c1\u0085', 'sk-soft\u00adhyphen']) {
      expect(() => loadConfig({ ...base, API_KEYS: `${key}:alpha` }), JSON.stringify(key)).toThrow(refused);
    }
    // Printable ASCII, and Latin-1's letters, which a client sending that byte presents.
    expect(loadConfig({ ...base, API_KEYS: 'sk-~!@#$%^&*()_+{}|"<>?`=[]\\;\'./-ok:alpha,sk-caf\u00e9:beta' }).apiKeys?.size).toBe(2);
  });

  it('keeps a colon inside a key: the project is what follows the last one', () => {
    expect(loadConfig({ ...base, API_KEYS: 'sk:with:colons:alpha' }).apiKeys).toEqual(new Map([['sk:with:colons', 'alpha']]));
  });
});

describe('API_KEYS_FILE read again on SIGHUP', () => {
  it('refuses a key removed from the file and takes one added, without a restart; a file that no longer parses changes nothing', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'stored-completions-sighup-'));
    const file = join(folder, 'keys.txt');
    writeFileSync(file, 'sk-old-key-0001:team-r\n');
    const server = await startChildServer({ databasePath: join(folder, 'c.db'), upstreamUrl: upstream.url, env: { API_KEYS_FILE: file } });
    const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${server.origin}/v1`, maxRetries: 0 });
    const status = (key: string) => fetch(`${server.origin}/v1/chat/completions`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);
    try {
      const created = await client('sk-old-key-0001').chat.completions.create({ model: 'gpt-4o', messages, store: true });
      expect(await status('sk-new-key-0009')).toBe(401);

      writeFileSync(file, '# sk-old-key-0001 leaked: removed\nsk-new-key-0009:team-r\n');
      server.process.kill('SIGHUP');
      expect(await server.waitForLog('API keys read again')).toMatchObject({ keys: 1, added: 1, removed: 1 });
      const refused = await fetch(`${server.origin}/v1/chat/completions`, { headers: { authorization: 'Bearer sk-old-key-0001' } });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual(wrongKey(maskKey('sk-old-key-0001')));
      // The same project under its new key: what the old key stored is there.
      expect((await client('sk-new-key-0009').chat.completions.list()).data.map((c) => c.id)).toEqual([created.id]);

      writeFileSync(file, 'sk-new-key-0009:team-r\nsk-new-key-0009:team-s\n');
      server.process.kill('SIGHUP');
      expect((await server.waitForLog('API keys not read again: the previous keys stay in force')).reason).toBe(
        "API_KEYS_FILE: a key is listed for two projects ('team-r' and 'team-s')",
      );
      expect(await status('sk-new-key-0009')).toBe(200);
      expect(await status('sk-old-key-0001')).toBe(401);
      expect(server.process.exitCode).toBeNull();
      expect(JSON.stringify(server.logs)).not.toContain('sk-new-key-0009');
    } finally {
      await stopChildren([server], 'SIGTERM');
      rmSync(folder, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('pass-through mode', () => {
  it('forwards the client key upstream and derives a project from it that is not the key', async () => {
    const service = await start();
    const key = 'sk-passthrough-secret-0000000000000001';
    await service.client(key).chat.completions.create({ model: 'gpt-4o', messages, store: true });
    expect(upstream.received[0]!.headers.authorization).toBe(`Bearer ${key}`);
    const [project] = service.db.prepare('SELECT name FROM projects').all() as { name: string }[];
    expect(project!.name).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(project!.name).not.toContain('passthrough');
  });

  it('never writes the key to the database files', async () => {
    const service = await start();
    const key = 'sk-passthrough-secret-0000000000000002';
    const client = service.client(key);
    const created = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { a: 'b' } });
    await client.chat.completions.update(created.id, { metadata: { c: 'd' } });
    await client.chat.completions.list();
    const folder = dirname(service.databasePath);
    for (const file of readdirSync(folder)) {
      expect(readFileSync(join(folder, file)).includes(Buffer.from('passthrough-secret')), file).toBe(false);
    }
  });

  it('maps the same key to the same project after a restart, and different keys to different projects', async () => {
    const first = await start();
    const created = await first.client('sk-key-one-000000000001').chat.completions.create({ model: 'gpt-4o', messages, store: true });
    await first.client('sk-key-two-000000000002').chat.completions.create({ model: 'gpt-4o', messages, store: true });
    expect(count(first, 'projects')).toBe(2);
    await first.stop();
    services.splice(services.indexOf(first), 1);
    const again = await startService({ upstreamUrl: upstream.url, databasePath: first.databasePath });
    try {
      expect((await again.client('sk-key-one-000000000001').chat.completions.retrieve(created.id)).id).toBe(created.id);
      expect((await again.client('sk-key-two-000000000002').chat.completions.list()).data.map((c) => c.id)).not.toContain(created.id);
    } finally {
      await again.close();
      rmSync(dirname(first.databasePath), { recursive: true, force: true });
    }
  });

  it('accepts the Bearer scheme in any case and with extra spaces, as the same key', async () => {
    const service = await start();
    const key = 'sk-scheme-test-00000000001';
    const created = await service.client(key).chat.completions.create({ model: 'gpt-4o', messages, store: true });
    for (const header of [`bearer ${key}`, `BEARER ${key}`, `Bearer  ${key}`, `Bearer\t${key}`, `Bearer ${key} `]) {
      const res = await service.request(`/v1/chat/completions/${created.id}`, { headers: { authorization: header } });
      expect(res.status, JSON.stringify(header)).toBe(200);
    }
  });
});

describe('the warning at start', () => {
  const WARNING =
    'no API_KEYS: any bearer key is accepted, and every request is sent upstream with UPSTREAM_API_KEY; set API_KEYS unless only trusted clients reach this port';

  it('says that pass-through mode with UPSTREAM_API_KEY lets any key spend it (an empty API_KEYS too), and only then, never showing the key', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'stored-completions-warning-'));
    const cases: [env: Record<string, string>, warned: boolean][] = [
      [{ UPSTREAM_API_KEY: 'sk-upstream-secret-0001' }, true],
      [{ UPSTREAM_API_KEY: 'sk-upstream-secret-0001', API_KEYS: '' }, true],
      [{ UPSTREAM_API_KEY: 'sk-upstream-secret-0001', API_KEYS: 'sk-client-0001:team' }, false],
      [{}, false],
    ];
    try {
      for (const [i, [env, warned]] of cases.entries()) {
        const server = await startChildServer({ databasePath: join(folder, `${i}.db`), upstreamUrl: upstream.url, env });
        try {
          const warnings = server.logs.filter((line) => line.level === 40).map((line) => line.msg);
          expect({ env, warnings }).toEqual({ env, warnings: warned ? [WARNING] : [] });
          expect(JSON.stringify(server.logs)).not.toContain('sk-upstream-secret');
        } finally {
          await stopChildren([server], 'SIGTERM');
        }
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 120_000);
});
