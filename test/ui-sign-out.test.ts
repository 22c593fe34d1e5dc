import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

// Two keys in pass-through mode: two projects. The provider hands both the same completion id, which
// each project keeps (docs/tenancy.md): one browser tab signs in with one key, out, and in with the other.
const KEY_A = DEFAULT_KEY;
const KEY_B = 'sk-test-key-0002';
const SHARED = 'chatcmpl-shared-by-two-projects';
const EXPORTED = 'chatcmpl-exported-by-a';

describe.skipIf(!browserAvailable)('web UI: what a key started ends at its sign-out', () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    upstream.nextIds.push(SHARED, SHARED, EXPORTED);
    const a = service.client(KEY_A);
    const b = service.client(KEY_B);
    expect((await a.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from A' }], store: true, metadata: { owner: 'A' } })).id).toBe(SHARED);
    expect((await b.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from B' }], store: true, metadata: { owner: 'B' } })).id).toBe(SHARED);
    expect((await a.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'only A' }], store: true })).id).toBe(EXPORTED);
  });

  it("never draws a metadata save of the key signed out into the list of the key signed in since", async () => {
    const page = await suite.open();
    await signIn(page, KEY_A);
    await expectRows(page, [SHARED, EXPORTED]);
    // The save is held on its way back until the other key's list is drawn.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let saved = false;
    await page.route(`**/v1/chat/completions/${SHARED}`, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const response = await route.fetch();
      await held;
      saved = true;
      return route.fulfill({ response });
    });
    await page.getByRole('link', { name: SHARED }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    await page.getByRole('combobox', { name: 'Key' }).fill('secret');
    await page.getByRole('combobox', { name: 'Value' }).fill('of-A');
    await page.getByRole('button', { name: 'Add pair' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, KEY_B);
    await expectRows(page, [SHARED]);
    const row = page.locator('ol.rows > li');
    await expect.poll(() => row.locator('.preview-text').first().textContent()).toBe('from B');
    const before = await row.innerText();

    release();
    await expect.poll(() => saved).toBe(true);
    // A's save went through, for A.
    const a = (await (await suite.service.request(`/v1/chat/completions/${SHARED}`, { key: KEY_A })).json()) as { metadata: unknown };
    expect(a.metadata).toEqual({ owner: 'A', secret: 'of-A' });
    // Its answer (A's completion) changed nothing on B's screen.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await row.innerText()).toBe(before);
    expect(before).toContain('owner: B');
    expect(before).not.toContain('of-A');
    expect(before).not.toContain('owner: A');
    // Nor is anything of A's offered to B: not as a suggestion, not as the pair B's "Tag" adds.
    await page.getByRole('combobox', { name: 'Key', exact: true }).focus();
    const offered = await page.evaluate(`[...document.querySelector('input[name=metadata-key]').list.options].map((o) => o.value)`);
    expect(offered).toEqual(['owner']);
    await page.getByRole('link', { name: SHARED }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Edit metadata' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: /^Tag\b/ }).count()).toBe(0);
  });

  it('drops an export still under way at sign-out: nothing of it is downloaded into the next key\'s session', async () => {
    const page = await suite.open();
    let downloads = 0;
    page.on('download', () => downloads++);
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let answered = false;
    await page.route('**/v1/stored-completions/export*', async (route) => {
      const response = await route.fetch();
      await held;
      answered = true;
      return route.fulfill({ response }).catch(() => {});
    });
    await signIn(page, KEY_A);
    await expectRows(page, [SHARED, EXPORTED]);
    await page.getByRole('button', { name: 'Export' }).click();
    await expect.poll(() => page.locator('.export-status').textContent()).toBe('Exporting…');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, KEY_B);
    await expectRows(page, [SHARED]);

    release();
    await expect.poll(() => answered).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(downloads).toBe(0);
    expect(await page.locator('.export-status').isVisible()).toBe(false);
    expect(await page.locator('#announcer').textContent()).not.toContain('Export');

    // B's own export downloads B's completions only.
    await page.unroute('**/v1/stored-completions/export*');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const text = await (await download.createReadStream()).toArray();
    const lines = Buffer.concat(text).toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as { id: string; metadata: unknown }));
    expect(lines.map((line) => [line.id, line.metadata])).toEqual([[SHARED, { owner: 'B' }]]);
  });

  it("leaves nothing of the signed-out key's view in the address: the next key starts from its own list", async () => {
    const page = await suite.open('#/?search=only');
    await signIn(page, KEY_A);
    await expectRows(page, [EXPORTED]);
    await page.getByRole('link', { name: EXPORTED }).click();
    await page.getByRole('heading', { name: EXPORTED }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('location.hash')).toBe('');

    await signIn(page, KEY_B);
    await expectRows(page, [SHARED]);
    expect(await page.evaluate('location.hash')).toBe('');
    expect(await page.getByRole('searchbox', { name: 'Search' }).or(page.getByRole('textbox', { name: 'Search' })).inputValue()).toBe('');
    const text = await page.locator('main').innerText();
    expect(text).not.toContain(EXPORTED);
    expect(text).not.toContain('only');
    // Its conversation's way back is B's list as B left it, not A's search.
    await page.getByRole('link', { name: SHARED }).click();
    expect(await page.getByRole('link', { name: '← Completions' }).getAttribute('href')).toBe('#/');
  });
});
