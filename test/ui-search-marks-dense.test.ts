import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/**
 * A reply whose search word is every other character (a column of numbers, searched for one of them): a text of
 * one paragraph split into a mark and a text per match. The ranges and the pieces were passed on as a call's
 * arguments, which live on the stack: 100,000 matches in one paragraph overflowed it, and "Show more" drew no more.
 * (Slow: 125,000 marks take the browser seconds to lay out; fewer do not overflow.)
 */
const MATCHES = 125_000;

describe.skipIf(!browserAvailable)('web UI: a search word marked 125,000 times in one paragraph', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'The column, please' }],
      replies: [{ content: '0 '.repeat(MATCHES) }],
    });
  });

  it('is drawn whole by "Show more", every match marked and counted', { timeout: 120_000 }, async () => {
    const page = await suite.open(`#/completions/${id}?search=0&order=desc`);
    await signIn(page);
    const showMore = page.getByRole('button', { name: 'Show more' });
    await showMore.waitFor();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // 3,000 characters drawn, then 100,000 a click: three clicks draw the 250,000.
    for (let click = 0; click < 3; click++) await showMore.click({ timeout: 60_000 });
    const nav = page.getByRole('group', { name: 'Search matches' });
    await expect.poll(() => nav.locator('.match-count').innerText(), { timeout: 60_000 }).toBe('125,000 matches of “0”');
    expect({ errors, marks: await page.locator('mark.match').count(), showMore: await showMore.count() }).toEqual({ errors: [], marks: MATCHES, showMore: 0 });
  });
});
