import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_500_000;

describe.skipIf(!browserAvailable)("web UI: a conversation's keys for a search's matches, and what a tag says while saving and after", () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (let i = 0; i < 3; i++) {
      await seedCompletion(client, upstream, {
        created: BASE + i,
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `A refund for order ${i}?` }],
        replies: [{ content: 'The refund is due. Another refund follows.' }],
      });
    }
  });

  const heading = (page: Page) => page.locator('h1.completion-id').textContent();
  /** Pairs and the id's end are isolated in the sentences (FSI…PDI): taken out here, to read them. */
  const announced = async (page: Page) => (await page.locator('#announcer').textContent())?.replace(/[\u2068\u2069]/g, '');
  const clearAnnouncer = (page: Page) => page.evaluate(`document.getElementById('announcer').textContent = ''`);
  const keysLine = (page: Page) => page.locator('.keys-hint').textContent();
  const metadataOf = async (id: string) => ((await (await suite.service.request(`/v1/chat/completions/${id}`)).json()) as { metadata: Record<string, string> }).metadata;

  /** The page signed in on the list, in a conversation, with "Tag" adding eval: batch-1 (set by a save in its editor). */
  async function withTagSet(id: string): Promise<Page> {
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('link', { name: id, exact: true }).click();
    await expect.poll(() => heading(page)).toBe(id);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('eval');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('batch-1');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => metadataOf(id)).toEqual({ eval: 'batch-1' });
    await page.getByRole('button', { name: /^Tag\b/ }).waitFor();
    return page;
  }

  /** Each POST to a completion held until the returned function is called (reads pass). */
  async function holdWrites(page: Page): Promise<() => void> {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    // A completion's update (the editor's save) and a metadata change (a tag's).
    const writes = (url: URL) => url.pathname.startsWith('/v1/chat/completions/') || url.pathname === '/v1/stored-completions/metadata';
    await page.route(writes, async (route) => {
      if (route.request().method() === 'POST') await held;
      return route.continue();
    });
    return release;
  }

  it('"n" and "p" are "Next match" and "Previous match" in a conversation read from a search, named where they act', async () => {
    const found = await apiIds(suite.service, 'search=refund&order=desc');
    const page = await suite.open('#/?search=refund');
    await signIn(page);
    await expectRows(page, found);
    expect(await keysLine(page)).toBe('Keys: / Search · j and k: next and previous · n and p: next and previous match · t: tag · Escape: back to the list. Turn off shortcuts');

    await page.getByRole('link', { name: found[1]!, exact: true }).click();
    await expect.poll(() => heading(page)).toBe(found[1]!);
    const nav = page.getByRole('group', { name: 'Search matches' });
    const count = nav.locator('.match-count');
    await expect.poll(() => count.innerText()).toBe('3 matches of “refund”');
    expect(await nav.getByRole('button', { name: 'Next match' }).getAttribute('aria-keyshortcuts')).toBe('n');
    expect(await nav.getByRole('button', { name: 'Previous match' }).getAttribute('aria-keyshortcuts')).toBe('p');
    await page.keyboard.press('n');
    await expect.poll(() => count.innerText()).toBe('Match 1 of 3');
    await expect.poll(() => announced(page)).toBe('Match 1 of 3');
    await page.keyboard.press('n');
    await expect.poll(() => count.innerText()).toBe('Match 2 of 3');
    await page.keyboard.press('p');
    await page.keyboard.press('p');
    await expect.poll(() => count.innerText()).toBe('Match 3 of 3');
    expect(await page.locator('mark.match.current').innerText()).toBe('refund');
    // A capital is another key (as "J" is): Shift+"n" does not move, nor does "n" typed in a field.
    await page.keyboard.press('Shift+N');
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    await page.getByRole('form', { name: 'Edit metadata' }).getByRole('combobox', { name: 'Key', exact: true }).press('n');
    expect(await page.getByRole('form', { name: 'Edit metadata' }).getByRole('combobox', { name: 'Key', exact: true }).inputValue()).toBe('n');
    expect(await count.innerText()).toBe('Match 3 of 3');
    await page.getByRole('form', { name: 'Edit metadata' }).getByRole('button', { name: 'Cancel' }).click();
    // "j" goes on within the search, where "n" acts again.
    await page.keyboard.press('j');
    await expect.poll(() => heading(page)).toBe(found[2]!);
    await expect.poll(() => count.innerText()).toBe('3 matches of “refund”');
    await page.keyboard.press('n');
    await expect.poll(() => count.innerText()).toBe('Match 1 of 3');

    // Not a search's list: the line does not name them, and a conversation has no marks to go to.
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => keysLine(page)).toBe('Keys: / Search · j and k: next and previous · t: tag · Escape: back to the list. Turn off shortcuts');
  });

  it('"t" and "Edit metadata" pressed while a tag is being saved say why nothing happens', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await withTagSet(all[2]!);
    // Taken out elsewhere, so that "t" has something to write.
    const cleared = await suite.service.request(`/v1/chat/completions/${all[2]!}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ metadata: {} }) });
    expect(cleared.status).toBe(200);
    const release = await holdWrites(page);
    await page.keyboard.press('t');
    await expect.poll(() => page.getByRole('button', { name: /^Tag\b/ }).getAttribute('aria-disabled')).toBe('true');
    await clearAnnouncer(page);
    const edit = page.getByRole('button', { name: 'Edit metadata' });
    await edit.click();
    await expect.poll(() => announced(page)).toBe('Wait: a tag is still being saved.');
    expect(await edit.getAttribute('aria-expanded')).toBe('false');
    await clearAnnouncer(page);
    await page.keyboard.press('t');
    await expect.poll(() => announced(page)).toBe('Wait: a tag is still being saved.');
    release();
    await expect.poll(() => announced(page)).toBe('Tagged eval: batch-1.');
    expect(await metadataOf(all[2]!)).toEqual({ eval: 'batch-1' });
    await page.unrouteAll();
  });

  it("a tag's answer heard after moving on names the conversation it was about", async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await withTagSet(all[1]!);
    const release = await holdWrites(page);
    // The next one (k: the newer) is tagged, and the user moves on before its answer.
    await page.keyboard.press('k');
    await expect.poll(() => heading(page)).toBe(all[0]!);
    await page.getByRole('button', { name: /^Tag\b/ }).waitFor();
    await page.keyboard.press('t');
    await expect.poll(() => page.getByRole('button', { name: /^Tag\b/ }).getAttribute('aria-disabled')).toBe('true');
    await page.keyboard.press('j');
    await expect.poll(() => heading(page)).toBe(all[1]!);
    release();
    await expect.poll(() => metadataOf(all[0]!)).toEqual({ eval: 'batch-1' });
    await expect.poll(() => announced(page)).toBe(`Conversation ending ${all[0]!.slice(-6)}: Tagged eval: batch-1.`);
    await page.unrouteAll();
  });
});
