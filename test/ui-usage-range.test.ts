import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';
import { usageRecord } from './helpers/usage-records.ts';

const KEY = 'sk-ui-usage-range-0001';
const PROJECT = 'usage-range';
const DEC_1 = 1_796_083_200;
const DEC_3 = 1_796_256_000;
const DEC_4 = 1_796_342_400;
const DEC_7 = 1_796_601_600;

/** The completions chart's scale (first day, maximum, last day), its label, and how many bars it draws. */
async function chart(page: Page) {
  const panel = page.getByRole('region', { name: 'Usage' });
  await expect.poll(() => panel.getByRole('img').count()).toBe(2);
  const figure = panel.locator('figure.chart').first();
  return {
    scale: await figure.locator('.chart-scale span').allTextContents(),
    label: await figure.getByRole('img').getAttribute('aria-label'),
    bars: await figure.locator('rect').count(),
    hints: await panel.locator('p.hint').allTextContents(),
  };
}

/** Completions all on one day (2026-12-04): a date filter around it must still show its days without any. */
describe.skipIf(!browserAvailable)("web UI: the usage charts draw the filter's days", () => {
  const suite = useUiSuite(async ({ service }) => {
    await service.store.saveCompletions(PROJECT, [usageRecord('chatcmpl-range-1', DEC_4 + 3600), usageRecord('chatcmpl-range-2', DEC_4 + 7200)]);
  }, { API_KEYS: `${KEY}:${PROJECT}` });

  it('draws every day of a created_after / created_before range, those without completions at zero', async () => {
    const page = await suite.open(`#/?created_after=${DEC_3}&created_before=${DEC_7}&usage=1`);
    await signIn(page, KEY);
    // created_before is exclusive: the range is Dec 3 to Dec 6, four days, one with the two completions.
    expect(await chart(page)).toEqual({
      scale: ['2026-12-03', 'max 2 / day', '2026-12-06'],
      label: 'Completions per UTC day: 2 completions over 4 days, at most 2 a day',
      bars: 1,
      hints: [],
    });

    // One side open: from its day to the last with completions.
    await page.evaluate(`location.hash = '#/?created_after=${DEC_1}&usage=1'`);
    await expect.poll(async () => (await chart(page)).scale).toEqual(['2026-12-01', 'max 2 / day', '2026-12-04']);
    expect((await chart(page)).label).toBe('Completions per UTC day: 2 completions over 4 days, at most 2 a day');

    // Ten years: more days than a chart draws, so the days with completions only (one), as without a filter.
    await page.evaluate(`location.hash = '#/?created_after=1577836800&created_before=1893456000&usage=1'`);
    await expect.poll(async () => (await chart(page)).scale).toEqual(['2026-12-04', 'max 2 / day', '']);
    expect(await chart(page)).toEqual({
      scale: ['2026-12-04', 'max 2 / day', ''],
      label: 'Completions per UTC day: 2 completions over 1 day, at most 2 a day',
      bars: 1,
      hints: [],
    });
  });
});
