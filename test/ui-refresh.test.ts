import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion, seedGroups } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { expectRows, openGroup as openPageOfGroup, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_763_000_000;
/** Completions stored while a test looks at the page: newer than every seeded one. */
let storedSince = BASE + 10_000;

/** Each test has its own group (`metadata[group]=…`). */
const GROUPS = { fresh: 2, typed: 2, usage: 3, chips: 3 } as const;
type Group = keyof typeof GROUPS;

describe.skipIf(!browserAvailable)('web UI: seeing what was stored since, and where the focus goes', () => {
  let ids = {} as Record<Group, string[]>;
  const suite = useUiSuite(async ({ service, upstream }) => {
    ids = await seedGroups(service.client(), upstream, { base: BASE, counts: GROUPS, extra: (group, i): Record<string, string> => (group === 'chips' ? { kind: `k${i}` } : {}) });
  });
  const openGroup = (group: Group) => openPageOfGroup(suite, group, ids[group]);

  /** Stores one more completion of `group` through the API, as a client would while the page is open. */
  async function storeAnother(group: Group): Promise<string> {
    const id = await seedCompletion(suite.service.client(), suite.upstream, {
      created: ++storedSince,
      model: 'gpt-4o-mini',
      metadata: { group },
      messages: [{ role: 'user', content: `${group} stored since` }],
    });
    ids[group].unshift(id);
    return id;
  }
  const focusedName = (page: Page) => page.evaluate<string | null>("document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent ?? null");

  it('"Refresh" shows a completion stored since the list was loaded, and keeps the focus on itself', async () => {
    const page = await openGroup('fresh');
    const before = [...ids.fresh];
    const added = await storeAnother('fresh');
    // Nothing asks the page: it shows what it loaded until told.
    await expectRows(page, before);
    const refresh = page.getByRole('button', { name: 'Refresh' });
    await refresh.click();
    await expectRows(page, [added, ...before]);
    expect(await focusedName(page)).toBe('Refresh');
  });

  it('"Refresh" keeps the rows in sight, dimmed and out of reach, until the new first page replaces them', async () => {
    const page = await openGroup('fresh');
    const before = await page.locator('ol.rows a.row-link').allTextContents();
    expect(before.length).toBeGreaterThan(0);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/chat/completions?*', async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.locator('.summary').textContent()).toBe('Loading…');
    // Emptied at once, a slow answer showed an empty page.
    expect(await page.locator('ol.rows a.row-link').allTextContents()).toEqual(before);
    expect(await page.locator('ol.rows').evaluate((list) => ({ inert: (list as unknown as { inert: boolean }).inert, stale: list.classList.contains('stale') }))).toEqual({ inert: true, stale: true });
    const added = await storeAnother('fresh');
    release();
    await expectRows(page, [added, ...before]);
    expect(await page.locator('ol.rows').evaluate((list) => ({ inert: (list as unknown as { inert: boolean }).inert, stale: list.classList.contains('stale') }))).toEqual({ inert: false, stale: false });
    await page.unroute('**/v1/chat/completions?*');
  });

  it('Back while a reload is on its way brings the kept list back live, not dimmed and out of reach', async () => {
    const page = await openGroup('fresh');
    const before = await page.locator('ol.rows a.row-link').allTextContents();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/chat/completions?*', async (route) => {
      await held;
      await route.continue();
    });
    await page.evaluate("location.hash = location.hash + '&order=asc'");
    await expect.poll(() => page.locator('.summary').textContent()).toBe('Loading…');
    await page.goBack();
    await expectRows(page, before);
    release();
    const rowsState = () => page.locator('ol.rows').evaluate((list) => ({ inert: (list as unknown as { inert: boolean }).inert, stale: list.classList.contains('stale') }));
    await expect.poll(rowsState).toEqual({ inert: false, stale: false });
    await page.unroute('**/v1/chat/completions?*');
    await page.locator('ol.rows a.row-link').first().click();
    await page.waitForURL(/#\/completions\//);
  });

  it('Enter on filters already applied loads the view again; Enter after words a pause applied does not', async () => {
    const page = await openGroup('typed');
    const lists: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/chat/completions') lists.push(request.url());
    });
    const added = await storeAnother('typed');
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter');
    await expectRows(page, ids.typed);
    expect(lists).toHaveLength(1);

    // Words typed and applied at the pause: Enter confirms them, the list just loaded for them is not asked again.
    await page.getByRole('searchbox', { name: 'Search' }).fill('since');
    await expectRows(page, [added]);
    await page.waitForTimeout(100);
    const asked = lists.length;
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter');
    await page.waitForTimeout(400);
    expect(lists).toHaveLength(asked);
  });

  it('the brand on the unfiltered list loads it again', async () => {
    const page = await suite.open();
    await signIn(page, DEFAULT_KEY);
    await page.locator('ol.rows a.row-link').first().waitFor();
    const added = await storeAnother('fresh');
    expect(await page.locator('ol.rows a.row-link').first().textContent()).not.toBe(added);
    await page.getByRole('link', { name: 'Stored completions' }).click();
    await expect.poll(() => page.locator('ol.rows a.row-link').first().textContent()).toBe(added);
    expect(await page.evaluate('location.hash')).toBe('');
  });

  it('"Usage" turned off and on again shows the figures of then, not those it showed before', async () => {
    const page = await suite.open('#/?metadata[group]=usage&usage=1');
    await signIn(page, DEFAULT_KEY);
    const totals = page.locator('p.usage-totals');
    await expect.poll(() => totals.textContent()).toMatch(/^3 completions · /);
    await storeAnother('usage');
    const usage = page.getByRole('button', { name: 'Usage', exact: true });
    await usage.click();
    await expect.poll(() => usage.getAttribute('aria-pressed')).toBe('false');
    await usage.click();
    await expect.poll(() => totals.textContent()).toMatch(/^4 completions · /);
    // And "Refresh" draws them again too.
    await storeAnother('usage');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => totals.textContent()).toMatch(/^5 completions · /);
  });

  it('a card\'s chip clicked from the keyboard leaves the focus on the filter it made; Back gives it to that card again', async () => {
    const page = await openGroup('chips');
    const card = ids.chips[1]!;
    const chip = page.locator(`ol.rows > li[data-id="${card}"]`).getByRole('button', { name: 'Filter on kind: k1' });
    await chip.focus();
    await page.keyboard.press('Enter');
    await expectRows(page, [card]);
    await expect.poll(() => focusedName(page)).toBe('Remove filter kind = k1');

    await page.goBack();
    await expectRows(page, ids.chips);
    await expect.poll(() => focusedName(page)).toBe(card);
  });

  it('the header shows enough of a key to tell keys apart, never most of it, also on a phone', async () => {
    const signedIn = async (key: string) => {
      const page = await suite.open();
      await signIn(page, key);
      return page;
    };
    // Pass-through mode: any key signs in.
    expect(await (await signedIn('sk-test-key-0001-long-enough')).locator('#signed-in').textContent()).toBe('Key sk-te…ough');
    expect(await (await signedIn('sk-test-key-0009')).locator('#signed-in').textContent()).toBe('Key …0009');
    expect(await (await signedIn('shortkey9')).locator('#signed-in').textContent()).toBe('Key ••••••••');

    const phone = await signedIn(DEFAULT_KEY);
    await phone.setViewportSize({ width: 390, height: 844 });
    const shown = phone.locator('#signed-in');
    expect(await shown.isVisible()).toBe(true);
    expect(await shown.innerText()).toBe('…0001');
    // Beside the brand and "Sign out", on one line.
    const boxes = await Promise.all(['.brand', '#signed-in', '#sign-out'].map((selector) => phone.locator(selector).boundingBox()));
    expect(new Set(boxes.map((box) => Math.round(box!.y + box!.height / 2))).size).toBe(1);
    expect(boxes[2]!.x + boxes[2]!.width).toBeLessThanOrEqual(390);
    // A date with its time takes the whole width (half of it showed "12/01/2025, 12"), once "More filters" shows it.
    await phone.getByRole('button', { name: 'More filters' }).click();
    const after = await phone.getByLabel('Created after').boundingBox();
    expect(after!.width).toBeGreaterThan(300);
  });
});
