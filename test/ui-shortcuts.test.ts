import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

/** Two pages of 20. */
const COUNT = 25;

describe.skipIf(!browserAvailable)('web UI: keyboard shortcuts for reading a day of conversations', () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (let i = 0; i < COUNT; i++) {
      await seedCompletion(client, upstream, { created: 1_760_300_000 + i, model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Message ${i}` }] });
    }
  });

  const focused = (page: Page) => page.evaluate('document.activeElement?.textContent ?? null');
  const focusedName = (page: Page) => page.evaluate('document.activeElement?.getAttribute("name") ?? document.activeElement?.getAttribute("role") ?? document.activeElement?.tagName');
  const heading = (page: Page) => page.locator('h1.completion-id').textContent();
  const hash = (page: Page) => new URL(page.url()).hash;

  async function openList(): Promise<[Page, string[]]> {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    return [page, all];
  }

  it('"/" focuses Search, "j" and "k" walk the cards, and in a conversation open Next and Previous; Escape goes back to the list', async () => {
    const [page, all] = await openList();
    expect(await page.locator('.keys-hint').textContent()).toBe('Keys: / Search · j and k: next and previous · t: tag · Escape: back to the list. Turn off shortcuts');
    await page.keyboard.press('/');
    await expect.poll(() => focusedName(page)).toBe('search');
    // The "/" that moved the focus was not typed into the field.
    expect(await page.getByRole('searchbox', { name: 'Search' }).inputValue()).toBe('');
    expect(await page.getByRole('searchbox', { name: 'Search' }).getAttribute('aria-keyshortcuts')).toBe('/');

    // From the heading (outside the cards): the first card in sight, then on down and back up.
    await page.locator('#list-title').focus();
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[0]);
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[2]);
    await page.keyboard.press('k');
    await expect.poll(() => focused(page)).toBe(all[1]);
    // From a card's checkbox, on to the next card.
    await page.getByRole('checkbox', { name: `Select ${all[4]}` }).focus();
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[5]);

    // Enter opens it; "j" and "k" are its Next and Previous; Escape is "← Completions".
    await page.keyboard.press('Enter');
    await expect.poll(() => heading(page)).toBe(all[5]);
    expect(await page.getByRole('navigation', { name: 'Completions in the list (top)' }).getByRole('link', { name: 'Next', exact: true }).getAttribute('aria-keyshortcuts')).toBe('j');
    await page.keyboard.press('j');
    await expect.poll(() => heading(page)).toBe(all[6]);
    await page.keyboard.press('j');
    await expect.poll(() => heading(page)).toBe(all[7]);
    await page.keyboard.press('k');
    await expect.poll(() => heading(page)).toBe(all[6]);
    await page.keyboard.press('Escape');
    await expect.poll(() => hash(page)).toBe('#/');
    await expectRows(page, all.slice(0, 20));
    await expect.poll(() => focused(page)).toBe(all[6]);
  });

  it('Escape leaves Search for the list heading with the search kept, so "j" goes on to its first card', async () => {
    const [page, all] = await openList();
    const search = page.getByRole('searchbox', { name: 'Search' });
    await page.keyboard.press('/');
    await page.keyboard.type('Message 7');
    // At once, before the pause after typing applied the words: Escape applies them, as leaving the field does.
    await page.keyboard.press('Escape');
    await expect.poll(() => hash(page)).toBe('#/?search=Message+7');
    expect(await search.inputValue()).toBe('Message 7');
    expect(await focusedName(page)).toBe('H1');
    await expectRows(page, [all[COUNT - 1 - 7]!]);
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[COUNT - 1 - 7]);
    // Back in the field with the words applied: Escape again only leaves it, the search still kept.
    await page.keyboard.press('/');
    await page.keyboard.press('Escape');
    expect(await focusedName(page)).toBe('H1');
    expect(await search.inputValue()).toBe('Message 7');
    expect(hash(page)).toBe('#/?search=Message+7');
  });

  it('never fires with a modifier held, in a field, a select, the metadata editor, the tag form, an ARIA widget or under a dialog', async () => {
    const [page, all] = await openList();
    await page.locator('#list-title').focus();
    for (const key of ['Control+j', 'Alt+j', 'Shift+J', 'Meta+j', 'Control+/']) {
      await page.keyboard.press(key);
      expect(await focusedName(page), key).toBe('H1');
    }
    // The same key alone is live here, so each refusal below means something.
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[0]);
    // Typed into each field as written, the focus staying there. The page's clock stopped meanwhile: on a busy
    // machine the pause after typing into Search or Model could run out before the field was emptied, and the list
    // then reloaded for "j/k" (and back) under the steps below, dropping the selection they make.
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1_000);
    for (const name of ['search', 'model', 'metadata-key', 'metadata-value']) {
      const field = page.locator(`input[name="${name}"]`);
      await field.focus();
      await page.keyboard.type('j/k');
      expect(await field.inputValue(), name).toBe('j/k');
      expect(await focusedName(page)).toBe(name);
      await field.fill('');
    }
    // Past the pause: the emptied fields are what it applies, the list it shows already.
    await page.clock.runFor(1_000);
    await page.clock.resume();
    // (Opened without a hash: none was written.)
    expect(await page.evaluate('location.hash')).toBe('');
    await page.locator('#list-title').focus();
    await expectRows(page, all.slice(0, 20));
    await page.locator('select[name=order]').focus();
    await page.keyboard.press('j');
    await page.keyboard.press('/');
    expect(await focusedName(page)).toBe('order');
    // A widget that reads keys itself (a screen reader in focus mode passes them on to it) keeps them.
    await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { createElement(tag: string): { setAttribute(n: string, v: string): void; focus(): void }; querySelector(s: string): { append(el: unknown): void } } }).document;
      const widget = doc.createElement('div');
      widget.setAttribute('role', 'listbox');
      widget.setAttribute('tabindex', '0');
      doc.querySelector('main').append(widget);
      widget.focus();
    });
    await page.keyboard.press('j');
    await page.keyboard.press('/');
    expect(await focusedName(page)).toBe('listbox');

    // The tag form of a selection.
    await page.getByRole('checkbox', { name: `Select ${all[0]}` }).check();
    await page.getByRole('region', { name: 'Selected completions' }).getByRole('button', { name: 'Add tag' }).click();
    const tagKey = page.getByRole('form', { name: 'Add tag' }).getByRole('combobox', { name: 'Tag key' });
    await tagKey.focus();
    await page.keyboard.type('j/k');
    expect(await tagKey.inputValue()).toBe('j/k');

    // The metadata editor: typing stays in it, and Escape closes the editor without leaving the conversation.
    // A page of its own: a list reload still pending from the fields typed into above cannot take the order back.
    const reader = await suite.open('#/?order=asc');
    await signIn(reader);
    await expectRows(reader, all.toReversed().slice(0, 20));
    await reader.getByRole('link', { name: all.at(-1)!, exact: true }).click();
    await expect.poll(() => heading(reader)).toBe(all.at(-1));
    await reader.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = reader.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).focus();
    await reader.keyboard.type('jk/');
    expect(await editor.getByRole('combobox', { name: 'Key', exact: true }).inputValue()).toBe('jk/');
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('');
    // With the editor open, its buttons focused: no Next, and Escape is the editor's.
    await editor.getByRole('button', { name: 'Save' }).focus();
    await reader.keyboard.press('j');
    expect(await heading(reader)).toBe(all.at(-1));
    await reader.keyboard.press('Escape');
    await expect.poll(() => editor.count()).toBe(0);
    expect(await heading(reader)).toBe(all.at(-1));
    expect(hash(reader)).toBe(`#/completions/${all.at(-1)}?order=asc`);

    // Under the Delete dialog, nothing behind it moves; its Escape answers it.
    await reader.getByRole('button', { name: 'Delete' }).click();
    await reader.getByRole('dialog', { name: 'Delete this completion?' }).waitFor();
    await reader.keyboard.press('j');
    await reader.keyboard.press('Escape');
    await expect.poll(() => reader.getByRole('dialog').count()).toBe(0);
    expect(await heading(reader)).toBe(all.at(-1));
    expect(hash(reader)).toBe(`#/completions/${all.at(-1)}?order=asc`);
    // Nothing open any more: Escape is "← Completions".
    await reader.keyboard.press('Escape');
    await expect.poll(() => hash(reader)).toBe('#/?order=asc');

    // The API key field of the sign-in form.
    const fresh = await suite.open();
    const key = fresh.getByRole('textbox', { name: 'API key' });
    await key.focus();
    await fresh.keyboard.type(`${DEFAULT_KEY}/jk`);
    expect(await key.inputValue()).toBe(`${DEFAULT_KEY}/jk`);
  });

  it('"Turn off" stops them, kept for the next visit, and "Turn on" brings them back', async () => {
    const [page, all] = await openList();
    await page.getByRole('button', { name: 'Turn off shortcuts' }).click();
    expect(await page.locator('.keys-hint').textContent()).toBe('Keyboard shortcuts are off. Turn on shortcuts');
    await page.locator('#list-title').focus();
    await page.keyboard.press('/');
    await page.keyboard.press('j');
    expect(await focusedName(page)).toBe('H1');
    expect(await page.getByRole('searchbox', { name: 'Search' }).getAttribute('aria-keyshortcuts')).toBe(null);
    await page.reload();
    await expectRows(page, all.slice(0, 20));
    await page.getByRole('button', { name: 'Turn on shortcuts' }).click();
    await page.locator('#list-title').focus();
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[0]);
  });

  it('"j" on "Load more" presses it; Escape from a conversation past the first page puts the focus on the list\'s heading', async () => {
    const [page, all] = await openList();
    await page.getByRole('button', { name: 'Load more' }).focus();
    await page.keyboard.press('j');
    await expectRows(page, all);
    await expect.poll(() => focused(page)).toBe(all[20]);
    // A link naming the list, to a completion on its second page: Escape draws the list's first page without it.
    await page.goto(`${suite.service.origin}/#/completions/${all[22]}?order=desc`);
    await page.reload();
    await expect.poll(() => heading(page)).toBe(all[22]);
    await page.keyboard.press('Escape');
    await expectRows(page, all.slice(0, 20));
    await expect.poll(() => focusedName(page)).toBe('H1');
  });

  it('are off where their line and its "Turn off" are not shown: a window 560 px wide or less', async () => {
    const [page, all] = await openList();
    await page.setViewportSize({ width: 500, height: 800 });
    expect(await page.locator('.keys-hint').isVisible()).toBe(false);
    await page.locator('#list-title').focus();
    await page.keyboard.press('j');
    await page.keyboard.press('/');
    expect(await focusedName(page)).toBe('H1');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[0]);
  });

  it('never puts the focus on a card hidden under the sticky selection bar: "j" from outside the cards, nor Tab', async () => {
    const [page, all] = await openList();
    await page.getByRole('checkbox', { name: `Select ${all[0]}` }).check();
    /** Scrolls `all[index]`'s head under the bar; says where its top and the bar's bottom then are. */
    const underBar = (index: number) => page.evaluate((id) => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { getBoundingClientRect(): { top: number; bottom: number } } } }).document;
      const head = doc.querySelector(`li.row[data-id="${id}"] .row-head`);
      const bar = doc.querySelector('.bulk');
      // Its head's bottom a few pixels above the bar's bottom: the card itself still shows below the bar.
      // (Twice: the first scroll may be what makes the bar stick to the window's top.)
      for (let i = 0; i < 2; i++) (globalThis as unknown as { scrollBy(x: number, y: number): void }).scrollBy(0, head.getBoundingClientRect().bottom - bar.getBoundingClientRect().bottom + 3);
      return [head.getBoundingClientRect().top, bar.getBoundingClientRect().bottom] as const;
    }, all[index]);
    const seen = () => page.evaluate('(() => { const el = document.activeElement; return { name: el.getAttribute("aria-label") ?? el.textContent, top: Math.round(el.getBoundingClientRect().top), barBottom: Math.round(document.querySelector(".bulk").getBoundingClientRect().bottom) }; })()') as Promise<{ name: string; top: number; barBottom: number }>;

    // "j" from outside the cards (the page's body): the first card that shows below the bar, scrolled wholly into sight.
    await page.evaluate('document.activeElement.blur()');
    const [headTop, barBottom] = await underBar(6);
    expect(headTop).toBeLessThan(barBottom);
    await page.keyboard.press('j');
    await expect.poll(() => focused(page)).toBe(all[6]);
    let now = await seen();
    expect(now.top, JSON.stringify(now)).toBeGreaterThanOrEqual(now.barBottom);

    // Tab onto a card's link left under the bar (the page scrolled by the wheel, the focus on its checkbox).
    await page.getByRole('checkbox', { name: `Select ${all[9]}` }).focus();
    await underBar(9);
    await page.keyboard.press('Tab');
    await expect.poll(() => focused(page)).toBe(all[9]);
    now = await seen();
    expect(now.top, JSON.stringify(now)).toBeGreaterThanOrEqual(now.barBottom);

    // "k" up to a card under the bar.
    await underBar(8);
    await page.keyboard.press('k');
    await expect.poll(() => focused(page)).toBe(all[8]);
    now = await seen();
    expect(now.top, JSON.stringify(now)).toBeGreaterThanOrEqual(now.barBottom);
  });

  it('"j" past the last card loaded loads more, goes on to the first card it brought, and stops at the end', async () => {
    const [page, all] = await openList();
    await page.getByRole('link', { name: all[19], exact: true }).focus();
    await page.keyboard.press('j');
    await expectRows(page, all);
    await expect.poll(() => focused(page)).toBe(all[20]);
    expect(await page.getByRole('button', { name: 'Load more' }).isVisible()).toBe(false);
    await page.getByRole('link', { name: all.at(-1)!, exact: true }).focus();
    await page.keyboard.press('j');
    await page.waitForTimeout(200);
    expect(await focused(page)).toBe(all.at(-1));
    expect(await page.locator('ol.rows li').count()).toBe(COUNT);
  });
});
