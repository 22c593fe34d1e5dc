import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { demoSpecs, seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** The vertical middle of a control, to tell whether two sit on one line. */
async function middle(locator: Locator): Promise<number> {
  const box = (await locator.boundingBox())!;
  return box.y + box.height / 2;
}

/** Each visible control of the filters, with its size: every one a target of 24 by 24 px or more (WCAG 2.5.8). */
function targets(page: Page): Promise<string[]> {
  return page.locator('form.filters').evaluate((form) =>
    [...form.querySelectorAll('button, input, select, a')]
      .map((control) => [control, control.getBoundingClientRect()] as const)
      .filter(([, box]) => box.width > 0)
      .map(([control, box]) => `${control.getAttribute('aria-label') || control.getAttribute('name') || control.textContent} ${Math.round(box.width)}x${Math.round(box.height)}`),
  );
}

function small(sizes: string[]): string[] {
  return sizes.filter((entry) => entry.split(' ').at(-1)!.split('x').some((side) => Number(side) < 24));
}

/** Whether the page, and each control of the filters, stays inside the window's width (no sideways scrolling). */
async function fitsWidth(page: Page): Promise<boolean> {
  const width = page.viewportSize()!.width;
  const inside = await page.locator('form.filters').evaluate((form, right) =>
    [...form.querySelectorAll('button, input, select')]
      .map((control) => control.getBoundingClientRect())
      .filter((box) => box.width > 0)
      .every((box) => box.left >= 0 && box.right <= right), width);
  return inside && (await page.evaluate('document.documentElement.scrollWidth')) === width;
}

describe.skipIf(!browserAvailable)('web UI: the filters leave the first screen to the list', () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (const spec of demoSpecs(1_765_000_000, 8)) await seedCompletion(client, upstream, spec);
  });

  it('at 1280x800 the metadata pair shares a row with the quick ranges, and four cards are in sight', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 1280, height: 800 });
    await signIn(page);
    const cards = page.locator('ol.rows > li.row');
    await expect.poll(() => cards.count()).toBe(8);
    const metadata = page.getByRole('group', { name: 'Metadata' });
    const key = metadata.getByRole('combobox', { name: 'Key', exact: true });
    const value = metadata.getByRole('combobox', { name: 'Value', exact: true });
    const add = metadata.getByRole('button', { name: 'Add metadata filter', exact: true });
    const ranges = page.getByRole('group', { name: 'Quick date ranges' });
    // The legend "Metadata" on the fields' line, the pair and "Add" beside the quick ranges: the metadata took a
    // row of its own under them, its legend and its labels each a line, and the list began at 413 px (2 whole
    // cards in sight, 3 begun); now at about 344 (3 whole, 4 begun).
    const line = await middle(key);
    for (const beside of [value, add, ranges, page.locator('.metadata-filter > legend')]) expect(Math.abs((await middle(beside)) - line)).toBeLessThan(12);
    expect((await key.boundingBox())!.y).toBeGreaterThan((await page.getByLabel('Created after').boundingBox())!.y + 30);
    // The keys' line shares the summary's row (it had a row of its own, and the first card began at 345 px), at its end
    // in the tab order too: "Select all loaded", at the row's left, comes first (test/ui-a11y-names.test.ts).
    const keysOff = page.getByRole('button', { name: 'Turn off shortcuts', exact: true });
    expect(Math.abs((await middle(keysOff)) - (await middle(page.locator('.list-controls .summary'))))).toBeLessThan(6);
    expect(await page.getByText(/^Keys: \/ Search/).isVisible()).toBe(true);
    await add.focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.closest("label")?.textContent')).toBe('Select all loaded');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Turn off shortcuts');
    const firstTop = (await cards.first().boundingBox())!.y;
    expect(firstTop).toBeLessThan(330);
    const inSight = await cards.evaluateAll((rows) => rows.filter((row) => row.getBoundingClientRect().top < 800).length);
    expect(inSight).toBeGreaterThanOrEqual(4);
    // Each label still names its field, and the focus goes on from the last quick range to the pair, in order.
    expect(await page.getByLabel('Key', { exact: true }).evaluate((input) => input.getAttribute('name'))).toBe('metadata-key');
    expect(await page.getByLabel('Value', { exact: true }).evaluate((input) => input.getAttribute('name'))).toBe('metadata-value');
    await ranges.getByRole('button', { name: 'Created in the last 30 days' }).focus();
    const focused: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate('document.activeElement.getAttribute("name") ?? document.activeElement.textContent'));
    }
    expect(focused).toEqual(['metadata-key', 'metadata-value', 'Add metadata filter']);
  });

  it.each([[1280, 800], [1000, 800], [390, 844]])('Tab reaches the filters\' fields in the order they are seen at %ix%i', async (width, height) => {
    const page = await suite.open();
    await page.setViewportSize({ width, height });
    await signIn(page);
    const more = page.getByRole('button', { name: /^More filters/ });
    if (await more.isVisible()) await more.click();
    const order = page.getByRole('combobox', { name: 'Order' });
    await order.waitFor();
    // As read: row by row, then from the left (on a phone, Order beside Model, where Tab reached it after both dates).
    const seen = await page.locator('.filter-grid').evaluate((grid) =>
      [...grid.querySelectorAll('input, select')]
        .map((field) => [field.getAttribute('name'), field.getBoundingClientRect()] as const)
        .sort(([, a], [, b]) => Math.round(a.top) - Math.round(b.top) || a.left - b.left)
        .map(([name]) => name));
    expect(seen).toEqual(['search', 'model', 'order', 'created_after', 'created_before']);
    const focusedName = () => page.evaluate('document.activeElement.getAttribute("name")');
    await page.getByRole('combobox', { name: 'Model' }).focus();
    await page.keyboard.press('Tab');
    expect(await focusedName()).toBe('order');
    await page.keyboard.press('Tab');
    expect(await focusedName()).toBe('created_after');
  });

  it('on a phone, "More filters" stays under Search when opened, above what it opened, as Tab reaches it', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 420, height: 900 });
    await signIn(page);
    const box = (selector: string) => page.locator(selector).evaluate((element) => {
      const { top, bottom } = element.getBoundingClientRect();
      return { top: Math.round(top), bottom: Math.round(bottom) };
    });
    const closed = await box('.more-filters');
    await page.getByRole('button', { name: /^More filters/ }).click();
    expect(await page.getByRole('button', { name: 'Fewer filters' }).getAttribute('aria-expanded')).toBe('true');
    // Where it was (under the thumb that pressed it), and every field it opened below it: it sat after the dates,
    // in the middle of the open form, the quick ranges and the metadata pair under it.
    const open = await box('.more-filters');
    expect(open).toEqual(closed);
    expect(open.top).toBeGreaterThan((await box('.filter-grid > .field:first-child')).bottom);
    for (const below of ['.field:has([name=model])', '.field:has([name=created_before])', '.quick-ranges', '.metadata-filter']) {
      expect((await box(`.filters ${below}`)).top, below).toBeGreaterThan(open.bottom);
    }
    const focused = () => page.evaluate('document.activeElement.getAttribute("name") ?? document.activeElement.textContent');
    await page.getByRole('searchbox', { name: 'Search' }).focus();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Fewer filters');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('model');
  });

  it.each([[1280, 800], [390, 844]])('every control of the filters is 24 by 24 px or more at %ix%i, a filter chip\'s × too', async (width, height) => {
    const page = await suite.open('#/?metadata[env]=prod');
    await page.setViewportSize({ width, height });
    await signIn(page);
    await page.getByRole('button', { name: 'Remove filter env = prod' }).waitFor();
    const more = page.getByRole('button', { name: /^More filters/ });
    if (await more.isVisible()) await more.click();
    // The × that removes a filter was 16 by 16.
    const sizes = await targets(page);
    expect(small(sizes), sizes.join(', ')).toEqual([]);
  });

  it('at 320 px (a 1280 px window at 400 %) nothing scrolls sideways, the filters folded or open', async () => {
    const page = await suite.open('#/?metadata[env]=prod');
    await page.setViewportSize({ width: 320, height: 256 });
    await signIn(page);
    await page.getByRole('button', { name: 'Remove filter env = prod' }).waitFor();
    expect(await fitsWidth(page)).toBe(true);
    await page.getByRole('button', { name: /^More filters/ }).click();
    await page.getByRole('combobox', { name: 'Key', exact: true }).waitFor();
    expect(await fitsWidth(page)).toBe(true);
    // Model and Order share a row, as they do from 900 px up: each alone left half a row empty.
    expect(Math.abs((await middle(page.getByRole('combobox', { name: 'Order' }))) - (await middle(page.getByRole('combobox', { name: 'Model' }))))).toBeLessThan(4);
  });
});
