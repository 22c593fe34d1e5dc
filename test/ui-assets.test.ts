import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadUiBundle, UI_CONTENT_SECURITY_POLICY } from '../src/routes/ui.ts';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';

/** The page's script budget (issue 11): under 200 KB compressed for the list page's first load. */
const SCRIPT_BUDGET_BYTES = 200 * 1024;

describe('the web UI as served', () => {
  let service: Service;
  let upstream: FakeUpstream;
  useServiceEachTest((started) => ({ service, upstream } = started));

  it('get / returns the page, revalidated on every load, with strict security headers and no key needed', async () => {
    const res = await fetch(`${service.origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; media-src data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(res.headers.get('content-security-policy')).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    const { version } = loadUiBundle();
    expect(html).toContain(`<script type="module" src="/ui/${version}/app.js"></script>`);
    // No inline script and nothing from another origin.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(upstream.received).toEqual([]);
  });

  it('serves assets under a versioned path, cached for a year, brotli or gzip as the browser accepts', async () => {
    const { version } = loadUiBundle();
    const url = `${service.origin}/ui/${version}/app.js`;
    const plain = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('vary')).toBe('Accept-Encoding');
    const source = await plain.text();
    expect(source).toContain("from './api.js'");

    // fetch would decode for us: read the raw bytes through node's http to see the encoding.
    const { request } = await import('node:http');
    const raw = (encoding: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        request(url, { headers: { 'accept-encoding': encoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      });
    const br = await raw('gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(source);
    const gz = await raw('gzip, br;q=0');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(source);

    const etag = plain.headers.get('etag')!;
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('answers 404 in OpenAI\'s shape for an unknown asset or a stale version', async () => {
    const { version } = loadUiBundle();
    for (const path of [`/ui/${version}/nope.js`, '/ui/000000000000/app.js', '/ui/app.js']) {
      const res = await fetch(`${service.origin}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: { message: `Invalid URL (GET ${path})`, type: 'invalid_request_error', param: null, code: null } });
    }
  });

  it('leaves /healthz and /v1 as they were: no UI headers there, a key still required', async () => {
    const health = await fetch(`${service.origin}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-security-policy')).toBeNull();
    const list = await fetch(`${service.baseURL}/chat/completions`);
    expect(list.status).toBe(401);
  });

  it('never hands text to an HTML parser or to eval in the UI sources', () => {
    const bundle = loadUiBundle();
    for (const [name, asset] of bundle.assets) {
      if (!name.endsWith('.js')) continue;
      const source = asset.identity.toString('utf8');
      expect(source, name).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment|DOMParser/);
    }
  });

  it('names every module of the page\'s import graph as a modulepreload, so the browser asks for all of them at once', async () => {
    const html = await (await fetch(`${service.origin}/`)).text();
    const { version } = loadUiBundle();
    const preloaded = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((match) => match[1]!);
    // The graph as the browser walks it: from the entry, every relative specifier of every module it fetches.
    const graph = new Set<string>();
    const pending = [`/ui/${version}/app.js`];
    while (pending.length > 0) {
      const path = pending.pop()!;
      const res = await fetch(`${service.origin}${path}`);
      expect(res.status, path).toBe(200);
      for (const [, specifier] of (await res.text()).matchAll(/(?:from|import)\s*['"](\.\/[^'"]+)['"]/g)) {
        const imported = new URL(specifier!, `${service.origin}${path}`).pathname;
        if (!graph.has(imported)) pending.push(imported);
        graph.add(imported);
      }
    }
    expect(graph.size).toBeGreaterThan(20);
    expect([...preloaded].sort()).toEqual([...graph].sort());
    // Each once, and the entry itself is the script tag's, not a preload.
    expect(new Set(preloaded).size).toBe(preloaded.length);
    expect(html).not.toContain('__UI_');
  });

  it('keeps every script the page loads, compressed, under 200 KB', () => {
    const bundle = loadUiBundle();
    let total = 0;
    for (const [name, asset] of bundle.assets) if (name.endsWith('.js')) total += asset.brotli.length;
    expect(total).toBeLessThan(SCRIPT_BUDGET_BYTES);
  });
});
