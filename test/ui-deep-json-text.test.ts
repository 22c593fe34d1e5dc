import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/**
 * A tool's result or a reply that is JSON text nested tens of thousands of levels deep: the service stores it (the
 * depth limit is a body's, not its strings'), and the page lays JSON text out indented. Indenting each level grew
 * quadratically: 40,000 levels were past the longest string the browser makes, and the conversation was not drawn.
 */
const LEVELS = 40_000;
const DEEP = `${'['.repeat(LEVELS)}1${']'.repeat(LEVELS)}`;

describe.skipIf(!browserAvailable)('web UI: JSON text nested thousands of levels deep', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'Fetch the page' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_fetch', type: 'function', function: { name: 'fetch', arguments: '{"url":"https://example.com"}' } }] },
        { role: 'tool', tool_call_id: 'call_fetch', content: DEEP },
      ],
      replies: [{ content: DEEP }],
    });
  });

  it('is shown as it was written, and the rest of the conversation with it', async () => {
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    const blocks = page.locator('.tool-call .code');
    await expect.poll(() => blocks.count(), { timeout: 20_000 }).toBe(2);
    expect(await blocks.nth(0).textContent()).toBe('{\n  "url": "https://example.com"\n}');
    // Shown up to "Show more", as stored: no line breaks, no indenting.
    const shown = (await blocks.nth(1).textContent())!;
    expect({ start: shown.slice(0, 10), brackets: /^\[+$/.test(shown) }).toEqual({ start: '[[[[[[[[[[', brackets: true });
    const reply = (await page.locator('.message.role-assistant .code').last().textContent())!;
    expect(/^\[+$/.test(reply)).toBe(true);
  });
});
