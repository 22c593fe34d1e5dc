import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, textBoxOf, useUiSuite } from './helpers/ui-page.ts';

/** A right-to-left override: every character after it, to the end of its paragraph, is laid out backwards. */
const RLO = '\u202e';
/** A key and a value in Hebrew: with only ": " between them they read as one right-to-left run, value first. */
const HEBREW_KEY = 'שפה';
const HEBREW_VALUE = 'עברית';
/** 180 characters with no place to break a line (a fine-tuned model's name can be this long). */
const LONG_MODEL = `model${'x'.repeat(175)}`;

/** The left edge, in CSS pixels, of `needle` under `selector`: where the reader sees it, whatever the DOM order (NaN when not there). */
async function leftOf(page: Page, selector: string, needle: string): Promise<number> {
  return (await textBoxOf(page, selector, needle))?.left ?? NaN;
}

describe.skipIf(!browserAvailable)('web UI: right-to-left text, long model names, new model names', () => {
  let rtlId = '';
  let longId = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    rtlId = await seedCompletion(client, upstream, {
      created: 1_760_000_000,
      model: `gpt${RLO}-rtl`,
      metadata: { [`${RLO}env`]: 'prod', [HEBREW_KEY]: HEBREW_VALUE },
      messages: [{ role: 'user', content: 'Hello' }],
    });
    longId = await seedCompletion(client, upstream, {
      created: 1_760_000_100,
      model: LONG_MODEL,
      messages: [{ role: 'user', content: 'Hello' }],
    });
  });

  /** Each `[selector, before, after]`: `before` is seen left of `after`, as in key: value read left to right. */
  async function expectOrder(page: Page, cases: [string, string, string][]) {
    for (const [selector, before, after] of cases) {
      const [left, right] = [await leftOf(page, selector, before), await leftOf(page, selector, after)];
      expect(left < right, `${selector}: "${before}" at ${left}, "${after}" at ${right}`).toBe(true);
    }
  }

  it('a metadata key or value with a right-to-left override or in Hebrew keeps key before value, and the override to itself', async () => {
    const page = await suite.open();
    await signIn(page);
    const row = `ol.rows li[data-id="${rtlId}"]`;
    await page.locator(`${row} .chips button`).first().waitFor();
    await expectOrder(page, [
      [`${row} .chips li:nth-child(1) button`, 'env', 'prod'],
      [`${row} .chips li:nth-child(2) button`, HEBREW_KEY, HEBREW_VALUE],
      // The model's override stays in the model: the token count after it reads forwards, after it.
      [`${row} .row-facts`, '-rtl', 'tokens'],
    ]);

    // The tooltip has no element to isolate with: the key and value are wrapped in FSI ... PDI.
    expect(await page.locator(`${row} .chips li:nth-child(1) button`).getAttribute('title')).toBe(`\u2068${RLO}env\u2069: \u2068prod\u2069 (click to filter on this pair)`);

    // Both pairs as filters: their chips read "key = value".
    await page.locator(`${row} .chips li:nth-child(1) button`).click();
    await page.locator(`${row} .chips li:nth-child(2) button`).click();
    await expect.poll(() => page.locator('.filter-chip').count()).toBe(2);
    await expectOrder(page, [
      ['.filter-chip:nth-child(1)', 'env', 'prod'],
      ['.filter-chip:nth-child(1)', 'prod', '×'],
      ['.filter-chip:nth-child(2)', HEBREW_KEY, HEBREW_VALUE],
    ]);

    await page.goto(`${suite.service.origin}/#/completions/${rtlId}`);
    const chips = 'aside.details ul.chips';
    await page.locator(`${chips} a`).first().waitFor();
    await expectOrder(page, [
      [`${chips} li:nth-child(1) a`, 'env', 'prod'],
      [`${chips} li:nth-child(2) a`, HEBREW_KEY, HEBREW_VALUE],
      ['p.facts', '-rtl', 'tokens'],
      ['p.facts', 'tokens', 'finish'],
    ]);
  });

  /** How far the page scrolls sideways, and where a box's right edge is against its row's (or the page's). */
  const pageWidth = (page: Page) => page.evaluate('document.documentElement.scrollWidth');
  const right = (page: Page, selector: string): Promise<number> => page.evaluate(`Math.round(document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect().right)`);

  it('a 180-character model name with no break fits a phone\'s width: cut in its row, wrapped in the conversation', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    const row = `ol.rows li[data-id="${longId}"]`;
    await page.locator(row).waitFor();
    expect(await pageWidth(page)).toBe(390);
    expect(await right(page, `${row} .model`)).toBeLessThanOrEqual(await right(page, row));
    // Cut with an ellipsis, whole in its tooltip.
    expect(await page.locator(`${row} .model`).getAttribute('title')).toBe(LONG_MODEL);

    await page.getByRole('link', { name: longId, exact: true }).click();
    await page.locator('p.facts .model').waitFor();
    expect(await pageWidth(page)).toBe(390);
    expect(await right(page, 'p.facts')).toBeLessThanOrEqual(390);
    expect(await page.locator('p.facts .model').textContent()).toBe(LONG_MODEL);

    // The usage panel's legend names it too.
    await page.goto(`${suite.service.origin}/#/?usage=1`);
    await page.locator('.legend li', { hasText: LONG_MODEL }).waitFor();
    expect(await pageWidth(page)).toBe(390);
  });

  it('a 180-character model name leaves a wide row its id and time, and the page its width', async () => {
    const page = await suite.open();
    await signIn(page);
    const row = `ol.rows li[data-id="${longId}"]`;
    await page.locator(row).waitFor();
    expect(await pageWidth(page)).toBe(1280);
    expect(await right(page, `${row} .model`)).toBeLessThanOrEqual(await right(page, row));
    const idWidth = await page.evaluate(`document.querySelector(${JSON.stringify(`${row} a.row-link`)}).getBoundingClientRect().width`);
    expect(idWidth).toBeGreaterThan(200);
  });

  it('a long model name leaves a card at 800 px its id and its time on one line each, the model cut shorter', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 800, height: 900 });
    await signIn(page);
    const row = `ol.rows li[data-id="${longId}"]`;
    await page.locator(row).waitFor();
    // The lines its text is drawn on: the distinct tops of its text's boxes (a string: no DOM types here).
    const lines = (selector: string) => page.evaluate(`(() => {
      const range = document.createRange();
      range.selectNodeContents(document.querySelector(${JSON.stringify(`${row} ${selector}`)}));
      return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.bottom))).size;
    })()`);
    // Both on one line each, the time's age on its date's line: the id took three lines and the time two.
    expect(await lines('a.row-link')).toBe(1);
    expect(await lines('time')).toBe(1);
    // The model still in its row, cut, whole in its title.
    expect(await right(page, `${row} .model`)).toBeLessThanOrEqual(await right(page, row));
    expect(await page.locator(`${row} .model`).evaluate((element) => element.scrollWidth > element.clientWidth)).toBe(true);
    expect(await page.locator(`${row} .model`).getAttribute('title')).toBe(LONG_MODEL);
    expect(await pageWidth(page)).toBe(800);
  });

  // Last in the file: it stores a third completion.
  it('a model first used after the page opened is suggested once the list reloads, without asking the usage again', async () => {
    const page = await suite.open();
    const usageAsks: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/stored-completions/usage') usageAsks.push(request.url());
    });
    await signIn(page);
    const suggestions = () => page.locator('datalist#known-models option').evaluateAll((options) => options.map((o) => (o as unknown as { value: string }).value));
    await expect.poll(suggestions).toEqual([`gpt${RLO}-rtl`, LONG_MODEL]);

    const newId = await seedCompletion(suite.service.client(), suite.upstream, { created: 1_760_000_200, model: 'gpt-new-model', messages: [{ role: 'user', content: 'Hello' }] });
    await page.getByRole('combobox', { name: 'Order' }).selectOption('asc');
    await expect.poll(() => page.locator('ol.rows a.row-link').allTextContents()).toEqual([rtlId, longId, newId]);
    await expect.poll(suggestions).toEqual(['gpt-new-model', `gpt${RLO}-rtl`, LONG_MODEL]);
    // The rows named it: the usage, asked when the page opened, is not asked again within half a minute.
    expect(usageAsks).toHaveLength(1);
  });
});
