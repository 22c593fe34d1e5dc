import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

/** The most the API takes: 16 pairs, keys of 64 characters, values of 512. */
const HUGE = Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`key_${String(k).padStart(2, '0')}_${'k'.repeat(57)}`, `${k} ${'value '.repeat(100)}`.slice(0, 512)]));

describe.skipIf(!browserAvailable)('web UI: a card with the most metadata the API allows', () => {
  const ids: string[] = [];
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    ids.push(await seedCompletion(client, upstream, { created: 1_760_000_000, model: 'gpt-4o', metadata: { env: 'prod' }, messages: [{ role: 'user', content: 'small' }] }));
    ids.push(await seedCompletion(client, upstream, { created: 1_760_000_100, model: 'gpt-4o', metadata: HUGE, messages: [{ role: 'user', content: 'huge' }] }));
    ids.reverse();
  });

  it.each([[1280], [390]])('stays a few lines tall at %i px, the rest of the pairs one press away', async (width) => {
    const page = await suite.open();
    await page.setViewportSize({ width, height: 900 });
    await signIn(page);
    await expectRows(page, ids);
    const card = page.locator(`li.row[data-id="${ids[0]}"]`);
    const chips = card.getByRole('list', { name: 'Metadata' });
    const height = async () => (await card.boundingBox())!.height;
    // 16 pairs, each a line of its own, made this card about 690 px tall at a phone's width and 610 on a
    // laptop; now six pairs (three a line on a laptop) and "+10 more": about 400 and 190.
    expect(await height()).toBeLessThan(width > 600 ? 250 : 450);
    expect(await chips.getByRole('button', { name: /^Filter on / }).count()).toBe(6);
    const more = chips.getByRole('button', { name: '+10 more metadata pairs', exact: true });
    expect(await more.textContent()).toBe('+10 more');
    await more.focus();
    await page.keyboard.press('Enter');
    expect(await chips.getByRole('button', { name: /^Filter on / }).count()).toBe(16);
    // The value ends in a space ("value value "): quoted, so its edge shows.
    expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe(`Filter on ${Object.keys(HUGE)[6]}: ${JSON.stringify(Object.values(HUGE)[6])}`);
    // A card with few pairs shows them all, with nothing to press.
    expect(await page.locator(`li.row[data-id="${ids[1]}"]`).getByRole('button', { name: /more metadata pairs/ }).count()).toBe(0);
    // Still no sideways scrolling.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
  });

  it('a conversation\'s wrapped metadata chips stand as far apart from the row above as beside each other', async () => {
    const page = await suite.open(`#/completions/${ids[0]}`);
    await signIn(page);
    const chips = page.locator('aside').getByRole('list', { name: 'Metadata' }).locator('a.chip');
    await expect.poll(() => chips.count()).toBe(16);
    const boxes = await chips.evaluateAll((links) => links.map((link) => link.getBoundingClientRect()).map(({ top, bottom }) => ({ top, bottom })));
    // Each chip wraps to a row of its own here: the gap between rows is the list's 0.35rem (5.6 px); on the
    // baseline, each chip also left its line's descender space below it (about 12 px in all).
    const gaps = boxes.slice(1).map((box, i) => Math.round(box.top - boxes[i]!.bottom));
    expect(gaps.every((gap) => gap >= 5 && gap <= 7), JSON.stringify(gaps)).toBe(true);
  });

  it.each([[1280], [390]])('a filter on a 512-character value keeps the page its width at %i px, its × in sight', async (width) => {
    const [key, value] = Object.entries(HUGE)[3]!;
    // It ends in a space: shown quoted.
    const shown = JSON.stringify(value);
    const page = await suite.open(`#/?${new URLSearchParams([[`metadata[${key}]`, value]])}`);
    await page.setViewportSize({ width, height: 900 });
    await signIn(page);
    await expectRows(page, [ids[0]!]);
    // The chip was as wide as its text: the page scrolled 4,000 px sideways, the × far out of sight.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    const remove = page.getByRole('button', { name: `Remove filter ${key} = ${shown}` });
    const box = (await remove.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(width);
    expect(await page.locator('.filter-chip > span').getAttribute('title')).toBe(`\u2068${key}\u2069 = \u2068${shown}\u2069`);
    await remove.click();
    await expectRows(page, ids);
  });

  it('the metadata editor with 64-character keys keeps a phone\'s width', async () => {
    const page = await suite.open(`#/completions/${ids[0]}`);
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('button', { name: `Remove ${Object.keys(HUGE)[15]}` }).waitFor();
    // A key with no place to break pushed the page about 30 px sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  });
});
