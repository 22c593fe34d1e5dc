import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

describe.skipIf(!browserAvailable)('web UI: messages with nothing in them', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '' }],
      replies: [{ content: null, finish_reason: 'length' }, { content: '' }],
    });
  });

  it('says a message is empty rather than drawing a card with nothing under its role', async () => {
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Choices (2)' }).waitFor();
    const cards = page.locator('article.message');
    expect((await cards.allInnerTexts()).map((text) => text.replace(/\n+/g, ' / '))).toEqual([
      'User / (empty text)',
      'Choice 0 · finish reason: length / (no content)',
      'Choice 1 · finish reason: stop / (empty text)',
    ]);
  });
});
