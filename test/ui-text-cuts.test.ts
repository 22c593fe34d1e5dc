import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** Half of a character (a lone UTF-16 surrogate): drawn as "�". */
const HALF_CHARACTER = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe.skipIf(!browserAvailable)('web UI: long text is cut between characters, never inside an emoji', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      // The previews cut at 239 UTF-16 units, a conversation's text at 3,000: an emoji (two units) straddles each cut.
      messages: [{ role: 'user', content: `${'a'.repeat(238)}🙂${'b'.repeat(20)}` }],
      replies: [{ content: `${'c'.repeat(2999)}🎉${'d'.repeat(50)}` }],
    });
  });

  it('the list previews and a collapsed message show no half emoji', async () => {
    const page = await suite.open();
    await signIn(page);
    const previews = page.locator(`ol.rows li[data-id="${id}"] .preview-text`);
    await expect.poll(() => previews.first().textContent()).not.toBe('…');
    for (const text of await previews.allTextContents()) {
      expect(text).toMatch(/…$/);
      expect(text).not.toMatch(HALF_CHARACTER);
    }

    await page.getByRole('link', { name: id, exact: true }).click();
    const reply = page.locator('.message .long-text .text');
    await expect.poll(() => reply.count()).toBe(1);
    expect(await reply.textContent()).toBe('c'.repeat(2999));
    // Pressed from the keyboard, the button goes with the last of the text: the text takes the focus, which
    // would otherwise fall to the page's top.
    await page.getByRole('button', { name: 'Show more' }).focus();
    await page.keyboard.press('Enter');
    expect(await reply.textContent()).toBe(`${'c'.repeat(2999)}🎉${'d'.repeat(50)}`);
    expect(await page.getByRole('button', { name: 'Show more' }).count()).toBe(0);
    expect(await reply.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement)).toBe(true);
  });
});

describe.skipIf(!browserAvailable)('web UI: a long message is cut at a space, never inside an address', () => {
  let id = '';
  const address = 'https://example.com/runbook';
  // 2,990 characters of words, then an address across the 3,000th: cut there, its head "https://e" was a live link.
  const words = `${'Lorem ipsum dolor sit amet. '.repeat(200)}`.slice(0, 2990);
  const reply = `${words} ${address} for details.`;
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'The runbook?' }],
      replies: [{ content: reply }],
    });
  });

  it('shows the words before the address, then the whole address as one link after Show more', async () => {
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('link', { name: id, exact: true }).click();
    const text = page.locator('.message .long-text .text');
    await expect.poll(() => text.count()).toBe(1);
    expect(await text.textContent()).toBe(`${words} `.replace(/\s+$/, ''));
    expect(await text.locator('a').count()).toBe(0);
    await page.getByRole('button', { name: 'Show more' }).click();
    expect(await text.locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual([address]);
  });
});


describe.skipIf(!browserAvailable)('web UI: a preview is cut between characters as a reader counts them, never before an accent', () => {
  // "é" written as e and a combining acute accent (U+0301): two UTF-16 units, one character.
  const accented = 'e\u0301';
  let cutAtEnd = '';
  let cutAtStart = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    // The preview's end cut falls at 239 units: between this "e" (unit 238) and its accent.
    cutAtEnd = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_200,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `${'a'.repeat(238)}${accented}${'b'.repeat(20)}` }],
      replies: [{ content: 'Noted.' }],
    });
    // A search's preview starts 16 units before the match (no space there): at unit 65, an accent.
    cutAtStart = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_300,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `${accented.repeat(40)}.refund please` }],
      replies: [{ content: 'Noted.' }],
    });
  });

  it('leaves a letter and its accent together at either end of the cut', async () => {
    const page = await suite.open();
    await signIn(page);
    const preview = (id: string) => page.locator(`ol.rows li[data-id="${id}"] .user-preview .preview-text`);
    await expect.poll(() => preview(cutAtEnd).textContent()).toBe(`${'a'.repeat(238)}…`);
    await page.goto(`${suite.service.origin}/#/?search=refund`);
    await expect.poll(() => preview(cutAtStart).textContent()).toBe(`…${accented.repeat(8)}.refund please`);
  });
});
