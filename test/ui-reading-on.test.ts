import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_200_000;
const COUNT = 24;

describe.skipIf(!browserAvailable)('web UI: "Previous" and "Next" of a conversation opened by a link or reloaded', () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (let i = 0; i < COUNT; i++) {
      await seedCompletion(client, upstream, {
        created: BASE + i,
        model: 'gpt-4o-mini',
        metadata: { env: i % 2 === 0 ? 'prod' : 'dev' },
        messages: [{ role: 'user', content: i % 3 === 0 ? `Lighthouse keeper ${i}` : `Message ${i}` }],
      });
    }
  });

  const heading = (page: Page) => page.locator('h1.completion-id').textContent();
  const nav = (page: Page, where = 'top') => page.getByRole('navigation', { name: `Completions in the list (${where})` });
  /** Signed in on the list at `hash` (showing `rows`), the conversation of `id` opened from its row, then the page reloaded. */
  async function openFromRowThenReload(hash: string, rows: string[], id: string): Promise<Page> {
    const page = await suite.open(hash);
    await signIn(page);
    await expectRows(page, rows);
    await page.getByRole('link', { name: id, exact: true }).click();
    await expect.poll(() => heading(page)).toBe(id);
    await page.reload();
    await expect.poll(() => heading(page)).toBe(id);
    return page;
  }
  /** The hrefs of a conversation's "Previous" and "Next" (null at an end), once they are drawn. */
  async function neighbourHrefs(page: Page): Promise<[string | null, string | null]> {
    await nav(page).waitFor();
    return [
      await nav(page).getByRole('link', { name: 'Previous', exact: true }).getAttribute('href'),
      await nav(page).getByRole('link', { name: 'Next', exact: true }).getAttribute('href'),
    ];
  }

  it('a shared link that names its list has that list\'s neighbours, reads on in it, and "← Completions" leads to it', async () => {
    const prod = await apiIds(suite.service, 'order=asc&metadata[env]=prod');
    const view = 'metadata%5Benv%5D=prod&order=asc';
    const page = await suite.open(`#/completions/${prod[5]}?metadata[env]=prod&order=asc`);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await signIn(page);
    await expect.poll(() => heading(page)).toBe(prod[5]);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[4]}?${view}`, `#/completions/${prod[6]}?${view}`]);
    // The same pair under the conversation.
    expect(await nav(page, 'end').getByRole('link', { name: 'Next', exact: true }).getAttribute('href')).toBe(`#/completions/${prod[6]}?${view}`);

    await nav(page).getByRole('link', { name: 'Next', exact: true }).click();
    await expect.poll(() => heading(page)).toBe(prod[6]);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[5]}?${view}`, `#/completions/${prod[7]}?${view}`]);
    // Back and Forward keep each its own neighbours.
    await page.goBack();
    await expect.poll(() => heading(page)).toBe(prod[5]);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[4]}?${view}`, `#/completions/${prod[6]}?${view}`]);
    await page.goForward();
    await expect.poll(() => heading(page)).toBe(prod[6]);

    const back = page.getByRole('link', { name: '← Completions' });
    expect(await back.getAttribute('href')).toBe(`#/?${view}`);
    await back.click();
    await expectRows(page, prod.slice(0, 20));
    // The one last read takes the focus once its page is in.
    await expect.poll(() => page.evaluate('document.activeElement?.textContent ?? null')).toBe(prod[6]);
    expect(errors).toEqual([]);
  });

  it('a conversation opened from the list keeps its neighbours across a reload, and so do the ones read after it', async () => {
    const prod = await apiIds(suite.service, 'order=asc&metadata[env]=prod');
    const view = 'metadata%5Benv%5D=prod&order=asc';
    const page = await openFromRowThenReload('#/?metadata[env]=prod&order=asc', prod.slice(0, 20), prod[3]!);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[2]}?${view}`, `#/completions/${prod[4]}?${view}`]);
    await nav(page).getByRole('link', { name: 'Next', exact: true }).click();
    await expect.poll(() => heading(page)).toBe(prod[4]);
    await page.reload();
    await expect.poll(() => heading(page)).toBe(prod[4]);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[3]}?${view}`, `#/completions/${prod[5]}?${view}`]);
    expect(await page.getByRole('link', { name: '← Completions' }).getAttribute('href')).toBe(`#/?${view}`);
  });

  it('"j" pressed before the neighbours came from the API is carried out once they are drawn, once however many times it was pressed', async () => {
    const prod = await apiIds(suite.service, 'order=asc&metadata[env]=prod');
    const page = await suite.open(`#/completions/${prod[5]}?metadata[env]=prod&order=asc`);
    await signIn(page);
    await expect.poll(() => heading(page)).toBe(prod[5]);
    await nav(page).waitFor();
    // The neighbours' requests (a list `after` an id) held, as from a distant service, until `letThrough()`: a
    // fixed delay could run out between two key presses on a busy machine. Asked while held, they wait for the next.
    let gate = Promise.resolve();
    let letThrough = () => {};
    const hold = () => (gate = new Promise<void>((resolve) => (letThrough = resolve)));
    await page.route(/\/v1\/chat\/completions\?.*after=/, async (route) => {
      await gate;
      await route.continue();
    });
    const view = 'metadata%5Benv%5D=prod&order=asc';
    /** At prod[index], its neighbours drawn: a move kept for them is carried out as they are, so none is left to come. */
    const stillAt = async (index: number) => {
      await expect.poll(() => neighbourHrefs(page)).toEqual([`#/completions/${prod[index - 1]}?${view}`, `#/completions/${prod[index + 1]}?${view}`]);
      expect(await page.evaluate('location.hash')).toBe(`#/completions/${prod[index]}?${view}`);
      expect(await heading(page)).toBe(prod[index]);
    };
    hold();
    await nav(page).getByRole('link', { name: 'Next', exact: true }).click();
    await expect.poll(() => heading(page)).toBe(prod[6]);
    // Twice before its neighbours are in: one move, not two, and none lost.
    expect(await nav(page).count()).toBe(0);
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    letThrough();
    await expect.poll(() => heading(page)).toBe(prod[7]);
    await stillAt(7);
    // Its neighbours drawn, "j" is at once; then the last key pressed before the next ones are in is the one carried out.
    hold();
    await page.keyboard.press('j');
    await expect.poll(() => heading(page)).toBe(prod[8]);
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    letThrough();
    await expect.poll(() => heading(page)).toBe(prod[7]);
    await stillAt(7);
  });

  it('after a reload, "← Completions" leads back to the list with its usage panel when it had it open', async () => {
    const prod = await apiIds(suite.service, 'order=asc&metadata[env]=prod');
    const view = 'metadata%5Benv%5D=prod&order=asc';
    const page = await openFromRowThenReload('#/?metadata[env]=prod&order=asc&usage=1', prod.slice(0, 20), prod[3]!);
    // Read on after the reload: the neighbours' addresses carry the panel too, so a reload there keeps it as well.
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[2]}?${view}&usage=1`, `#/completions/${prod[4]}?${view}&usage=1`]);
    await nav(page).getByRole('link', { name: 'Next', exact: true }).click();
    await expect.poll(() => heading(page)).toBe(prod[4]);
    await page.reload();
    await expect.poll(() => heading(page)).toBe(prod[4]);
    const back = page.getByRole('link', { name: '← Completions' });
    expect(await back.getAttribute('href')).toBe(`#/?${view}&usage=1`);
    await back.click();
    await expectRows(page, prod.slice(0, 20));
    expect(await page.getByRole('button', { name: 'Usage' }).getAttribute('aria-pressed')).toBe('true');
    await page.locator('#usage-panel').getByRole('table').first().waitFor();
  });

  it('a link naming a list the completion is not in says so beside its neighbours, which are that list\'s nearest by date', async () => {
    const prod = await apiIds(suite.service, 'order=asc&metadata[env]=prod');
    const dev = await apiIds(suite.service, 'order=asc&metadata[env]=dev');
    const page = await suite.open(`#/completions/${dev[5]}?metadata[env]=prod&order=asc`);
    await signIn(page);
    await expect.poll(() => heading(page)).toBe(dev[5]);
    // dev[5] (seeded 11th) sits between prod[5] and prod[6] (10th and 12th).
    const view = 'metadata%5Benv%5D=prod&order=asc';
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[5]}?${view}`, `#/completions/${prod[6]}?${view}`]);
    await expect.poll(() => nav(page).textContent()).toContain('Not in this list: its completions nearest by date');
    expect(await nav(page, 'end').textContent()).not.toContain('Not in this list');
    // Drawn after the focus went to the heading, and above it: said to a screen reader, the focus left where it was.
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Not in this list: its completions nearest by date');
    expect(await page.evaluate('document.activeElement.textContent')).toBe(dev[5]);
    // On a phone, the line wraps beside the links, not inside them.
    await page.setViewportSize({ width: 390, height: 800 });
    for (const name of ['Previous', 'Next']) {
      const box = await nav(page).getByRole('link', { name, exact: true }).boundingBox();
      expect(box!.height, name).toBeLessThan(30);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    // One the list holds says nothing of the kind.
    await nav(page).getByRole('link', { name: 'Next', exact: true }).click();
    await expect.poll(() => heading(page)).toBe(prod[6]);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${prod[5]}?${view}`, `#/completions/${prod[7]}?${view}`]);
    expect(await nav(page).textContent()).not.toContain('Not in this list');
  });

  it('the cursor works with search and a time range, newest first, and the ends have no link', async () => {
    const query = `created_after=${BASE + 2}&created_before=${BASE + 20}&search=lighthouse`;
    const found = await apiIds(suite.service, `order=desc&${query}`);
    expect(found.length).toBeGreaterThan(3);
    // Named in any order; written back in the list's own.
    const page = await suite.open(`#/completions/${found[1]}?search=lighthouse&order=desc&created_before=${BASE + 20}&created_after=${BASE + 2}`);
    await signIn(page);
    await expect.poll(() => heading(page)).toBe(found[1]);
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${found[0]}?${query}&order=desc`, `#/completions/${found[2]}?${query}&order=desc`]);
    await nav(page).getByRole('link', { name: 'Previous', exact: true }).click();
    await expect.poll(() => heading(page)).toBe(found[0]);
    // The first of that list: nothing before it.
    expect(await neighbourHrefs(page)).toEqual([null, `#/completions/${found[1]}?${query}&order=desc`]);
  });

  it('a completion deleted since, or never stored, does not break the page: the API\'s neighbours, or none', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const gone = all[10]!;
    expect((await suite.service.request(`/v1/chat/completions/${gone}`, { method: 'DELETE' })).status).toBe(200);
    const page = await suite.open(`#/completions/${gone}?order=desc`);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await signIn(page);
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBe(`No chat completion found with id '${gone}'.`);
    // Its position is still a place in the list (SPEC.md: `after` naming a completion deleted since).
    expect(await neighbourHrefs(page)).toEqual([`#/completions/${all[9]}?order=desc`, `#/completions/${all[11]}?order=desc`]);

    await page.goto(`${suite.service.origin}/#/completions/chatcmpl-neverstored?order=desc`);
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBe("No chat completion found with id 'chatcmpl-neverstored'.");
    await page.waitForTimeout(300);
    expect(await page.locator('.neighbours').count()).toBe(0);
    expect(await page.getByRole('link', { name: '← Completions' }).getAttribute('href')).toBe('#/');
    expect(errors).toEqual([]);
  });
});
