import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { openConversation, signIn, useUiSuite } from './helpers/ui-page.ts';

const PIXEL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** Markdown's characters, trailing spaces and a tag: what the API holds, which "Copy" must give back, not the HTML drawn. */
const PLAIN = 'Plain **text** with <b>tags</b>  \n\nand a second paragraph.  ';
const ARGUMENTS = '{"city":"Oslo","days":2}';
const RESULT = '{"temp_c":14}';
const PYTHON = 'def f(x):\n    return x * 2';
/** A block whose last line is blank: its code ends in a newline the fence's own does not add to. */
const BARE = '  two  spaces\n';
const REPLY = `# Result\n\nHere:\n\n\`\`\`python\n${PYTHON}\n\`\`\`\n\n~~~\n${BARE}\n~~~\n\nDone.`;

/** Every "Copy" button of the conversation, as a screen reader names it, in the page's order. */
function copyNames(page: Page): Promise<string[]> {
  return page.locator('.conversation button.small').evaluateAll((buttons) =>
    buttons.filter((b) => b.textContent === 'Copy').map((b) => b.getAttribute('aria-label') ?? ''));
}

describe.skipIf(!browserAvailable)('web UI: copying a message or a code block', () => {
  const ids: Record<string, string> = {};
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    ids.conversation = await seedCompletion(client, upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Compare these two.' }, { type: 'image_url', image_url: { url: PIXEL } }, { type: 'text', text: '  Which is *larger*?\n' }] },
        { role: 'user', content: PLAIN },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: ARGUMENTS } }] },
        { role: 'tool', tool_call_id: 'call_1', content: RESULT },
        { role: 'user', content: 'Now copy the code.' },
      ],
      replies: [{ content: REPLY }],
    });
    ids.choices = await seedCompletion(client, upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PIXEL } }] }, { role: 'user', content: 'Two taglines.' }],
      replies: [{ content: 'One:\n\n```sh\nls\n```' }, { content: 'Two.' }],
    });
  });

  it('names each "Copy" by the message or the code it copies (a message\'s several blocks by their place), none where a message has no text', async () => {
    let page = await openConversation(suite, ids.conversation!);
    expect(await copyNames(page)).toEqual([
      'Copy message 1 of 5',
      'Copy message 2 of 5',
      // The tool result is drawn under its call, in the call's card, whose own "Copy" ends the card.
      'Copy message 4 of 5',
      'Copy message 3 of 5',
      'Copy message 5 of 5',
      'Copy code block 1 of 2 (python)',
      'Copy code block 2 of 2',
      'Copy reply',
    ]);
    page = await openConversation(suite, ids.choices!);
    // Message 1 is an image alone: nothing to copy, no button.
    // A message with one code block keeps its name by the language.
    expect(await copyNames(page)).toEqual(['Copy message 2 of 2', 'Copy sh code', 'Copy choice 0', 'Copy choice 1']);
  });

  it('copies each message as the API holds it, and each code block exactly, saying so', async () => {
    const page = await openConversation(suite, ids.conversation!);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.service.origin });
    const clipboard = () => page.evaluate('navigator.clipboard.readText()') as Promise<string>;
    const copies: [string, string][] = [
      // The text parts joined by a new line, as the API's `content` of the message joins them; the image left out.
      ['Copy message 1 of 5', 'Compare these two.\n  Which is *larger*?\n'],
      ['Copy message 2 of 5', PLAIN],
      ['Copy message 3 of 5', ARGUMENTS],
      ['Copy message 4 of 5', RESULT],
      ['Copy message 5 of 5', 'Now copy the code.'],
      ['Copy code block 1 of 2 (python)', PYTHON],
      ['Copy code block 2 of 2', BARE],
      ['Copy reply', REPLY],
    ];
    for (const [name, text] of copies) {
      // Something else in between, so each copy is seen to land.
      await page.evaluate('navigator.clipboard.writeText("-")');
      await page.getByRole('button', { name, exact: true }).click();
      await expect.poll(clipboard).toBe(text);
    }
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Copied to the clipboard');
  });

  it('is reached by the keyboard and shown while focused, hidden until hovered beside a mouse, always shown on a phone', async () => {
    const page = await openConversation(suite, ids.conversation!);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.service.origin });
    const opacity = (name: string) => page.getByRole('button', { name, exact: true }).evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(el).opacity);
    await page.mouse.move(0, 0);
    expect(await opacity('Copy message 5 of 5')).toBe('0');
    expect(await opacity('Copy code block 1 of 2 (python)')).toBe('0');
    await page.getByRole('button', { name: 'Copy message 5 of 5', exact: true }).focus();
    expect(await opacity('Copy message 5 of 5')).toBe('1');
    // The next stop after the last input message's "Copy" is the reply's first code block's.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Copy code block 1 of 2 (python)');
    expect(await opacity('Copy code block 1 of 2 (python)')).toBe('1');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate('navigator.clipboard.readText()')).toBe(PYTHON);
    await page.locator('article.message.role-assistant').last().hover();
    expect(await opacity('Copy reply')).toBe('1');

    await page.setViewportSize({ width: 420, height: 800 });
    await page.mouse.move(0, 0);
    const shown = await page.locator('.conversation button.small').evaluateAll((buttons) =>
      buttons.filter((b) => b.textContent === 'Copy').map((b) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(b).opacity));
    expect(shown).toEqual(Array(8).fill('1'));
    // In the card's corner, clear of its heading; the page no wider than the phone.
    const card = page.locator('article.message').nth(1);
    const head = (await card.locator('.message-title').boundingBox())!;
    const button = (await card.getByRole('button', { name: 'Copy message 2 of 5' }).boundingBox())!;
    expect(button.x >= head.x + head.width && button.x + button.width <= 420).toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(420);
  });

  it('leaves a code block\'s "Copy" unmarked when a search for the word is read', async () => {
    const page = await suite.open(`#/completions/${ids.conversation}?search=copy&order=desc`);
    await signIn(page);
    await page.locator('article.message').first().waitFor();
    await expect.poll(() => page.locator('.match-count').textContent()).toBe('1 match of “copy”');
    expect(await page.locator('.conversation mark.match').allTextContents()).toEqual(['copy']);
    expect(await page.locator('.conversation button mark').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Copy code block 1 of 2 (python)' }).textContent()).toBe('Copy');
  });

  it('copies where the async clipboard is missing (plain http to another machine), through a selected text', async () => {
    const page = await openConversation(suite, ids.conversation!);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.service.origin });
    // Taken away as an insecure context has it (undefined); kept aside to read the result back. Gone with the page.
    await page.evaluate('window.kept = navigator.clipboard; Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined, configurable: true })');
    expect(await page.evaluate('navigator.clipboard === undefined')).toBe(true);
    await page.getByRole('button', { name: 'Copy code block 1 of 2 (python)' }).focus();
    await page.keyboard.press('Enter');
    // Indentation and line breaks whole: the selected text is copied as laid out.
    await expect.poll(() => page.evaluate('window.kept.readText()')).toBe(PYTHON);
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Copied to the clipboard');
    // The focus stays on the button pressed, for the next key.
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Copy code block 1 of 2 (python)');
  });
});
