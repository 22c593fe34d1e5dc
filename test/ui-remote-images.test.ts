import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, waitForIdle } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, unnamedControls, useUiSuite } from './helpers/ui-page.ts';

/** A 1x1 PNG: what a tracking pixel is. */
const PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

/** An image host that counts who asks: a real HTTP server, as a tracker's is. */
interface ImageHost {
  origin: string;
  host: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  server: Server;
}

async function startImageHost(): Promise<ImageHost> {
  const requests: ImageHost['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    if (req.url === '/gone.png') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('gone');
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': PIXEL.length, 'cache-control': 'no-store' });
    res.end(PIXEL);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, requests, server };
}

describe.skipIf(!browserAvailable)('web UI: images on other hosts are loaded only when asked', () => {
  const hosts: ImageHost[] = [];
  let many = '';
  let other = '';
  let gone = '';
  const dataImage = `data:image/png;base64,${PIXEL.toString('base64')}`;
  beforeAll(async () => {
    hosts.push(await startImageHost(), await startImageHost());
  });
  afterAll(async () => {
    await Promise.all(hosts.map((host) => new Promise((resolve) => host.server.close(resolve))));
  });
  const suite = useUiSuite(async ({ service, upstream }) => {
    many = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: `${hosts[0]!.origin}/pixel.png?who=reader`, detail: 'low' } },
            { type: 'image_url', image_url: { url: dataImage } },
            { type: 'image_url', image_url: { url: `${hosts[1]!.origin}/cat.png` } },
            { type: 'image_url', image_url: { url: `${hosts[0]!.origin}/dog.png` } },
          ],
        },
      ],
      replies: [{ content: 'Pixels.' }],
    });
    other = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `${hosts[0]!.origin}/pixel.png?who=reader` } }] }],
      replies: [{ content: 'One pixel.' }],
    });
    gone = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_200,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `${hosts[1]!.origin}/gone.png` } }] }],
      replies: [{ content: 'Nothing there.' }],
    });
  });

  const requested = () => hosts.map((host) => host.requests.map((request) => request.path));

  it('names the host and the address, loads one on "Load image" without a referrer, and the rest on "Load all images"', async () => {
    const page = await suite.open();
    const refused: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') refused.push(message.text());
    });
    await signIn(page);
    await page.goto(`${suite.service.origin}/#/completions/${many}`);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    await waitForIdle(page);

    // Opened: nothing asked of either host. The data: image, which is in the stored body, is drawn.
    expect(requested()).toEqual([[], []]);
    const figures = page.locator('article.message figure.image-part');
    expect(await figures.evaluateAll((all) => all.map((figure) => figure.querySelector('img')?.getAttribute('src') ?? null))).toEqual([null, dataImage, null, null]);
    expect(await figures.nth(0).innerText()).toBe(
      `Not loaded: loading it tells ${hosts[0]!.host} that this conversation was opened, when, and from where.\n\nLoad image\n`
      + `Image: ${hosts[0]!.origin}/pixel.png?who=reader · detail low Copy address`,
    );
    expect(await page.locator('.images-bar').textContent()).toBe('3 images on 2 other hosts not loaded. Load all images');
    const loadButtons = page.getByRole('button', { name: 'Load image' });
    expect(await loadButtons.count()).toBe(3);
    // Each button is described by the host it would ask.
    expect(await page.locator(`#${await loadButtons.first().getAttribute('aria-describedby')}`).textContent())
      .toBe(`Not loaded: loading it tells ${hosts[0]!.host} that this conversation was opened, when, and from where.`);
    expect(await unnamedControls(page)).toEqual([]);

    // From the keyboard: the first loads, from its host, without a referrer; the focus stays on its figure.
    await loadButtons.first().focus();
    await page.keyboard.press('Enter');
    const first = figures.nth(0).locator('img');
    await expect.poll(() => first.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(1);
    expect(requested()).toEqual([['/pixel.png?who=reader'], []]);
    expect(hosts[0]!.requests[0]!.headers.referer).toBeUndefined();
    expect(await first.getAttribute('referrerpolicy')).toBe('no-referrer');
    expect(await first.getAttribute('alt')).toBe(`Image 1 of 4 from ${hosts[0]!.host}, sent with the message`);
    expect(await page.evaluate("document.activeElement === document.querySelector('article.message figure.image-part')")).toBe(true);
    expect(await page.locator('.images-bar').textContent()).toBe('2 images on 2 other hosts not loaded. Load all images');

    // Drawn again ("Markdown" unticked): the one loaded stays loaded, the others wait still.
    await page.getByRole('checkbox', { name: 'Markdown' }).uncheck();
    expect(await figures.evaluateAll((all) => all.map((figure) => figure.querySelector('img')?.getAttribute('src') ?? null)))
      .toEqual([`${hosts[0]!.origin}/pixel.png?who=reader`, dataImage, null, null]);
    expect(requested()).toEqual([['/pixel.png?who=reader'], []]);

    // "Load all images": the two left, the focus on the bar that says so.
    await page.getByRole('button', { name: 'Load all images' }).click();
    await expect.poll(() => figures.evaluateAll((all) => all.map((figure) => (figure.querySelector('img') as unknown as { naturalWidth: number } | null)?.naturalWidth ?? 0)))
      .toEqual([1, 1, 1, 1]);
    expect(requested().map((paths) => paths.toSorted())).toEqual([['/dog.png', '/pixel.png?who=reader'], ['/cat.png']]);
    expect(hosts.flatMap((host) => host.requests.map((request) => request.headers.referer ?? null))).toEqual([null, null, null]);
    expect(await page.locator('.images-bar').textContent()).toBe('Asked their hosts for 2 images.');
    expect(await page.evaluate('document.activeElement.className')).toBe('images-bar');
    expect(await page.getByRole('button', { name: 'Load image' }).count()).toBe(0);

    // Another conversation with the same image: not loaded unasked, and no bar for one image.
    await page.goto(`${suite.service.origin}/#/completions/${other}`);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    await waitForIdle(page);
    expect(await page.locator('article.message figure.image-part img').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Load image' }).count()).toBe(1);
    expect(await page.locator('.images-bar').count()).toBe(0);
    expect(hosts[0]!.requests.length).toBe(2);
    expect(refused.filter((text) => text.includes('Content Security Policy'))).toEqual([]);
  });

  it('says, in sight and through the live region, that an image asked for did not load', async () => {
    const page = await suite.open();
    await signIn(page);
    await page.goto(`${suite.service.origin}/#/completions/${gone}`);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    await page.getByRole('button', { name: 'Load image' }).focus();
    await page.keyboard.press('Enter');
    const said = `The image did not load from ${hosts[1]!.host}: the host refused it, or it is gone.`;
    await expect.poll(() => page.locator('article.message figure.image-part .image-failed').textContent()).toBe(said);
    // The focus waits on the figure, where the button was: without the announcement, nothing was heard of the failure.
    await expect.poll(() => page.locator('#announcer').textContent()).toBe(said);
    expect(await page.evaluate("document.activeElement === document.querySelector('article.message figure.image-part')")).toBe(true);
  });

  it('fits a phone: the address wraps, nothing scrolls sideways, the button is a 24 px target', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await page.goto(`${suite.service.origin}/#/completions/${many}`);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    await waitForIdle(page);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(390);
    const box = await page.getByRole('button', { name: 'Load image' }).first().boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(24);
    expect(box!.width).toBeGreaterThanOrEqual(24);
  });
});
