import { describe, expect, it } from 'vitest';
import { LATEST_CREATED } from '../src/store/derived-fields.ts';
import { browserAvailable } from './helpers/browser.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';
import { usageRecord } from './helpers/usage-records.ts';

const KEY = 'sk-ui-far-days-0001';
const PROJECT = 'far-days';

/**
 * A database written before `created` was bounded to the years 0000-9999 may hold a completion dated
 * past them (any safe integer was stored). The usage panel must still name and order its days.
 */
describe.skipIf(!browserAvailable)('web UI: usage of days past the year 9999', () => {
  const suite = useUiSuite(async ({ service }) => {
    // 2025-11-30, then 10000-01-01 and 275761-01-01 (past the last day a JavaScript Date holds).
    await service.store.saveCompletions(PROJECT, [
      usageRecord('chatcmpl-far-1', 1_764_460_800),
      usageRecord('chatcmpl-far-2', LATEST_CREATED + 1),
      usageRecord('chatcmpl-far-3', 8_640_009_504_000),
    ]);
  }, { API_KEYS: `${KEY}:${PROJECT}` });

  it('answers them in date order with their six-digit years, and the chart runs from the first to the last', async () => {
    const res = await suite.service.request('/v1/stored-completions/usage', { key: KEY });
    expect(res.status).toBe(200);
    const days = ((await res.json()) as { data: { day: string }[] }).data.map((item) => item.day);
    expect(days).toEqual(['2025-11-30', '+010000-01-01', '+275761-01-01']);

    const page = await suite.open('#/?usage=1');
    await signIn(page, KEY);
    const panel = page.getByRole('region', { name: 'Usage' });
    await expect.poll(() => panel.getByRole('img').count()).toBe(2);
    expect(await panel.locator('.chart-scale').first().locator('span').allTextContents()).toEqual(['2025-11-30', 'max 1 / day', '+275761-01-01']);
    // Drawn side by side, the three days read as three days in a row: said so.
    expect(await panel.locator('p.hint').allTextContents()).toEqual([
      'The days span more than 120: the charts draw only the 3 days with completions, side by side, not the days between.',
    ]);
  });
});
