import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

/** 2025-12-04 12:00 UTC (the test tabs' time zone). */
const CREATED = 1_764_849_600;
const DEC_3 = 1_764_720_000;
const DEC_6_NOON = 1_765_022_400;

describe.skipIf(!browserAvailable)('web UI: the document title names the view', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: CREATED,
      model: 'gpt-4o',
      metadata: { env: 'prod' },
      messages: [{ role: 'user', content: 'Please refund my order' }],
    });
  });

  it('says the filters, order and usage of a list, and the id of a conversation, so tabs and history entries differ', async () => {
    const page = await suite.open();
    expect(await page.title()).toBe('Sign in · Stored completions');
    await signIn(page);
    await expectRows(page, [id]);
    expect(await page.title()).toBe('Completions · Stored completions');

    await page.getByRole('textbox', { name: 'Search' }).or(page.getByRole('searchbox', { name: 'Search' })).fill('refund');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.title()).toBe('Search "refund" · Completions · Stored completions');

    await page.evaluate(`location.hash = '#/?model=gpt-4o&metadata[env]=prod&created_after=${DEC_3}&created_before=${DEC_6_NOON}&search=refund&order=asc'`);
    await expectRows(page, [id]);
    await expect.poll(() => page.title()).toBe('Search "refund" · model gpt-4o · env: prod · after 2025-12-03 · before 2025-12-06 12:00 · oldest first · Completions · Stored completions');

    await page.evaluate(`location.hash = '#/?search=${'word '.repeat(20)}&usage=1'`);
    await expect.poll(() => page.title()).toBe(`Search "${'word '.repeat(8).slice(0, 39)}…" · Usage · Stored completions`);

    await page.evaluate(`location.hash = '#/'`);
    await expectRows(page, [id]);
    await page.getByRole('link', { name: id }).click();
    await page.getByRole('heading', { name: id }).waitFor();
    expect(await page.title()).toBe(`${id} · Stored completions`);
    await page.goBack();
    await expect.poll(() => page.title()).toBe('Completions · Stored completions');
  });
});
