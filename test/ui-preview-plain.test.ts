import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const QUESTION = [
  '# About refunds',
  '',
  'Please **refund** my `order_12` (see [the policy](https://shop.example/refund-policy)).',
  '',
  '- first item',
  '* [x] second item',
  '> quoted, 2 * 3 * 4 and snake_case stay',
].join('\n');
const ANSWER = ['## Answer ##', '', 'Yes, a *full* refund, ~~not~~ __now__:', '', '```sh', 'refund --order **12**', '```', '---', '![receipt](https://shop.example/r.png)', '', 'Next steps', '==========', 'None.'].join('\n');

/** A reply opening on a table, as models answer "compare…": a code span holding a pipe, and an escaped one. */
const TABLE_ANSWER = [
  'Here is how they compare:',
  '',
  '| Plan | Price | Limit |',
  '|:-----|------:|:-----:|',
  '| **Basic** | $5 | `a || b` |',
  '| Pro | $9 | one \\| two |',
  '',
  'Pick Pro.',
].join('\n');

describe.skipIf(!browserAvailable)("web UI: a card's previews show a message's words, not its markdown", () => {
  let id = '';
  let tableId = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    tableId = await seedCompletion(service.client(), upstream, { created: 1_764_849_000, model: 'gpt-4o', messages: [{ role: 'user', content: 'Compare the plans' }], replies: [{ content: TABLE_ANSWER }] });
    id = await seedCompletion(service.client(), upstream, { created: 1_764_849_600, model: 'gpt-4o', messages: [{ role: 'user', content: QUESTION }], replies: [{ content: ANSWER }] });
  });

  const previews = (page: import('playwright-core').Page) => page.locator(`ol.rows li[data-id="${id}"] .preview-text`);

  it('drops headings (an underlined one\'s "===" too), emphasis, code marks, link addresses, bullets, quotes and fences; the search words are still marked', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, [id, tableId]);
    await expect.poll(() => previews(page).allTextContents()).toEqual([
      'About refunds Please refund my order_12 (see the policy). first item second item quoted, 2 * 3 * 4 and snake_case stay',
      'Answer Yes, a full refund, not now: refund --order **12** receipt Next steps None.',
    ]);

    await page.goto(`${suite.service.origin}/#/?search=refund`);
    await expectRows(page, [id]);
    await expect.poll(() => previews(page).first().textContent()).not.toBe('…');
    expect(await previews(page).evaluateAll((spans) => spans.map((span) => span.innerHTML))).toEqual([
      // Whole words, as the service finds them: "refunds" is not "refund". The line starts near the first match.
      '…Please <mark class="match">refund</mark> my order_12 (see the policy). first item second item quoted, 2 * 3 * 4 and snake_case stay',
      '…Yes, a full <mark class="match">refund</mark>, not now: <mark class="match">refund</mark> --order **12** receipt Next steps None.',
    ]);
  });

  it('reads a table by its cells\' words, without its pipes and delimiter row; a pipe in a code span or escaped is kept', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, [id, tableId]);
    const reply = page.locator(`ol.rows li[data-id="${tableId}"] .reply-preview .preview-text`);
    // It read "Here is how they compare: | Plan | Price | Limit | |:-----|------:|:-----:| | Basic | $5 | a || b | …".
    await expect.poll(() => reply.textContent()).toBe('Here is how they compare: Plan Price Limit Basic $5 a || b Pro $9 one | two Pick Pro.');
  });
});
