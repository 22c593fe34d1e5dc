import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { openConversation, useUiSuite } from './helpers/ui-page.ts';

const PIXEL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/**
 * The conversation's headings, articles and images as a screen reader lists them (the accessibility tree's names and
 * levels, in order): what a reader jumping from heading to heading hears.
 */
async function outline(page: Page): Promise<string[]> {
  const tree = await page.locator('.conversation').ariaSnapshot();
  return tree.split('\n').map((line) => line.trim().replace(/:$/, '')).filter((line) => /^- (heading|article|img)\b/.test(line));
}

describe.skipIf(!browserAvailable)('web UI: each message card and image is named apart', () => {
  const ids: Record<string, string> = {};
  /** The service's own icon: an image on an http host, three addresses on one host. */
  let icon = '';
  let host = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    host = new URL(service.origin).host;
    icon = `${service.origin}${/href="(\/ui\/[^"]+\/icon\.svg)"/.exec(await (await fetch(`${service.origin}/`)).text())![1]}`;
    ids.tools = await seedCompletion(client, upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Rules.' },
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":14}' },
        { role: 'assistant', content: 'It is 14 °C.' },
        { role: 'user', content: 'Thanks.' },
      ],
      replies: [{ content: '# Summary\n\nYou are welcome.' }],
    });
    ids.choices = await seedCompletion(client, upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Two taglines.' }],
      replies: [{ content: 'One.' }, { content: 'Two.' }],
    });
    ids.images = await seedCompletion(client, upstream, {
      created: 1_760_000_200,
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image_url', image_url: { url: `${icon}?a` } },
            { type: 'image_url', image_url: { url: PIXEL } },
            { type: 'image_url', image_url: { url: `${icon}?b` } },
          ],
        },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: `${icon}?c` } }] },
      ],
      replies: [{ content: 'Icons.' }],
    });
  });

  it('names each card by its place among the input messages and its role, a tool result under its call by its own', async () => {
    const page = await openConversation(suite, ids.tools!);
    expect(await outline(page)).toEqual([
      '- heading "Input messages (6)" [level=2]',
      '- article "Message 1 of 6, System"',
      '- heading "Message 1 of 6, System" [level=3]: System',
      '- article "Message 2 of 6, User"',
      '- heading "Message 2 of 6, User" [level=3]: User',
      '- article "Message 3 of 6, Assistant"',
      '- heading "Message 3 of 6, Assistant" [level=3]: Assistant',
      '- heading "Message 4 of 6, tool result" [level=4]: Result',
      '- article "Message 5 of 6, Assistant"',
      '- heading "Message 5 of 6, Assistant" [level=3]: Assistant',
      '- article "Message 6 of 6, User"',
      '- heading "Message 6 of 6, User" [level=3]: User',
      '- heading "Reply" [level=2]',
      '- article "Assistant"',
      '- heading "Assistant" [level=3]',
      // A heading the model wrote sits under its card's, not beside it.
      '- heading "Summary" [level=4]',
    ]);
    // The places are names, not text (after the colon: what is seen): the cards read, and copy, as they are seen.
    expect(await page.locator('.conversation article.message').evaluateAll((cards) => cards.map((card) => (card as unknown as { innerText: string }).innerText.split('\n')[0])))
      .toEqual(['System', 'User', 'Assistant', 'Assistant', 'User', 'Assistant · finish reason: stop']);
  });

  it('names several choices by their index', async () => {
    const page = await openConversation(suite, ids.choices!);
    expect(await outline(page)).toEqual([
      '- heading "Input messages (1)" [level=2]',
      '- article "Message 1 of 1, User"',
      '- heading "Message 1 of 1, User" [level=3]: User',
      '- heading "Choices (2)" [level=2]',
      '- article "Choice 0"',
      '- heading "Choice 0" [level=3]',
      '- article "Choice 1"',
      '- heading "Choice 1" [level=3]',
    ]);
  });

  it('tells images from one host apart by their place, loaded one by one, all at once, or drawn again', async () => {
    const page = await openConversation(suite, ids.images!);
    const images = () => outline(page).then((lines) => lines.filter((line) => line.startsWith('- img')));
    expect(await images()).toEqual(['- img "Image 2 of 4, sent with the message"']);

    await page.getByRole('button', { name: `Load image 3 of 4 from ${host}` }).click();
    await expect.poll(images).toEqual(['- img "Image 2 of 4, sent with the message"', `- img "Image 3 of 4 from ${host}, sent with the message"`]);

    await page.getByRole('button', { name: 'Load all images' }).click();
    const all = [
      `- img "Image 1 of 4 from ${host}, sent with the message"`,
      '- img "Image 2 of 4, sent with the message"',
      `- img "Image 3 of 4 from ${host}, sent with the message"`,
      `- img "Image 4 of 4 from ${host}, sent with the message"`,
    ];
    await expect.poll(images).toEqual(all);
    expect(await page.locator('article.message figure img').evaluateAll((imgs) => imgs.map((img) => img.getAttribute('src'))))
      .toEqual([`${icon}?a`, PIXEL, `${icon}?b`, `${icon}?c`]);

    // Drawn again ("Markdown" unticked): the loaded images come back with the same names.
    await page.getByRole('checkbox', { name: 'Markdown' }).uncheck();
    await expect.poll(images).toEqual(all);
  });
});
