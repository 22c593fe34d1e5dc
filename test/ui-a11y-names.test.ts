import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable, waitForIdle } from './helpers/browser.ts';
import { demoSpecs, seedCompletion } from './helpers/seed.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

/** A 1x1 PNG, stored in the body: drawn at once, and counted among the conversation's images. */
const DATA_IMAGE = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** A table of 60 columns: wider than the message whatever its cells wrap to (a message's text breaks anywhere). */
const WIDE_TABLE = [0, 1, 2].map((row) => `|${Array.from({ length: 60 }, (_, column) => (row === 1 ? '---' : ` c${column} `)).join('|')}|`).join('\n');

/** The lines of an ARIA snapshot that name a control of `role` whose name starts with `start`. */
async function named(scope: Locator, role: string, start: string): Promise<string[]> {
  const lines = (await scope.ariaSnapshot()).split('\n').map((line) => line.trim().replace(/^- /, ''));
  return lines.filter((line) => line.startsWith(`${role} "${start}`)).map((line) => line.replace(/:.*$/s, ''));
}

/** Whether `control` is marked invalid, and the texts that describe it, in order. */
function invalidity(control: Locator): Promise<{ invalid: string | null; described: string[] }> {
  return control.evaluate((el) => {
    const doc = el.ownerDocument;
    const ids = (el.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
    return { invalid: el.getAttribute('aria-invalid'), described: ids.map((id: string) => doc.getElementById(id)?.textContent ?? `(no #${id})`) };
  });
}

const focusedName = (page: Page) => page.evaluate('document.activeElement.getAttribute("aria-label") || document.activeElement.closest("label, button, a")?.textContent');

describe.skipIf(!browserAvailable)('web UI: every control named apart, in the order it is seen, and errors tied to their field', () => {
  /** The list's ids, newest first. */
  let newest: string[] = [];
  let pictures = '';
  let code = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (const spec of demoSpecs(1_765_000_000, 3)) await seedCompletion(client, upstream, spec);
    pictures = await seedCompletion(client, upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Which of these is a cat?' },
            { type: 'image_url', image_url: { url: 'https://a.example/1.png' } },
            { type: 'image_url', image_url: { url: DATA_IMAGE } },
            { type: 'image_url', image_url: { url: 'https://a.example/2.png' } },
          ],
        },
        { role: 'assistant', content: 'The second. Any more?' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://b.example/3.png' } }] },
      ],
      replies: [{ content: 'A dog.' }],
    });
    code = await seedCompletion(client, upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Show me.' }],
      replies: [{ content: `\`\`\`python\nprint("${'x'.repeat(400)}")\n\`\`\`\n\n\`\`\`\nshort\n\`\`\`\n\n${WIDE_TABLE}\n\n| c |\n|---|\n| narrow |\n` }],
    });
    newest = await apiIds(service, 'order=desc');
  });

  /** A tab signed in on the conversation of `id`, drawn whole. */
  async function openConversation(id: string): Promise<Page> {
    const page = await suite.open();
    await signIn(page);
    await page.goto(`${suite.service.origin}/#/completions/${id}`);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    await waitForIdle(page);
    return page;
  }

  it('names each "Load image" and "Copy address" by the image it is for, counted among the conversation\'s images', async () => {
    const page = await openConversation(pictures);
    const conversation = page.locator('.conversation');
    // The data: image is the second image a reader sees: the count is theirs, not only the ones to load.
    expect(await named(conversation, 'button', 'Load image')).toEqual([
      'button "Load image 1 of 4 from a.example"',
      'button "Load image 3 of 4 from a.example"',
      'button "Load image 4 of 4 from b.example"',
    ]);
    expect(await named(conversation, 'button', 'Copy address')).toEqual([
      'button "Copy address of image 1 of 4"',
      'button "Copy address of image 3 of 4"',
      'button "Copy address of image 4 of 4"',
    ]);
    // Drawn again (the characters as stored), they are named as before.
    await page.getByRole('checkbox', { name: 'Markdown' }).uncheck();
    expect(await named(page.locator('.conversation'), 'button', 'Load image')).toEqual([
      'button "Load image 1 of 4 from a.example"',
      'button "Load image 3 of 4 from a.example"',
      'button "Load image 4 of 4 from b.example"',
    ]);
  });

  it('makes a code block or table that scrolls sideways a named region Tab reaches and arrows scroll; one that fits is no stop', async () => {
    const page = await openConversation(code);
    const reply = page.locator('.conversation article.message').last();
    await expect.poll(() => reply.locator('[role=region]').evaluateAll((all) => all.map((el) => [el.tagName, el.getAttribute('aria-label'), el.getAttribute('tabindex')]))).toEqual([
      ['PRE', 'python code', '0'],
      ['DIV', 'Table', '0'],
    ]);
    // The short block and the narrow table: no stop, no name.
    expect(await reply.locator('pre.fenced-code:not([role]), .md-table:not([role])').count()).toBe(2);
    expect(await reply.locator('[tabindex]:not([role=region])').count()).toBe(0);
    // From the keyboard: Tab from the "Markdown" box (the last control before the messages) reaches the question's "Copy",
    // the code, its "Copy", the short block's "Copy" (the block itself no stop), then the table.
    await page.getByRole('checkbox', { name: 'Markdown' }).focus();
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('Copy message 1 of 1');
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('python code');
    const block = reply.getByRole('region', { name: 'python code' });
    expect(await block.evaluate((el) => el.scrollLeft)).toBe(0);
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => block.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('Copy code block 1 of 2 (python)');
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('Copy code block 2 of 2');
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('Table');
  });

  it('goes through the summary\'s row in the order it is seen: "Select all loaded", then "Turn off shortcuts" at its end, then the cards', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, newest);
    await page.getByRole('button', { name: 'Add metadata filter' }).focus();
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focusedName(page));
    }
    expect(seen).toEqual(['Select all loaded', 'Turn off shortcuts', `Select ${newest[0]}`]);
    // Left to right on one row, as read.
    const selectAll = (await page.locator('.select-all').boundingBox())!;
    const keysOff = (await page.getByRole('button', { name: 'Turn off shortcuts' }).boundingBox())!;
    expect(keysOff.x).toBeGreaterThan(selectAll.x + selectAll.width);
    expect(Math.abs(keysOff.y + keysOff.height / 2 - (selectAll.y + selectAll.height / 2))).toBeLessThan(6);
  });

  it('ties the filter form\'s errors to their fields, and unties them once corrected', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, newest);
    const metadata = page.getByRole('group', { name: 'Metadata' });
    const key = metadata.getByRole('combobox', { name: 'Key', exact: true });
    const value = metadata.getByRole('combobox', { name: 'Value', exact: true });
    await metadata.getByRole('button', { name: 'Add metadata filter' }).click();
    expect(await invalidity(key)).toEqual({ invalid: 'true', described: ['Enter a metadata key to filter on.'] });
    expect(await invalidity(value)).toEqual({ invalid: null, described: [] });
    expect(await page.evaluate('document.activeElement.name')).toBe('metadata-key');
    // The value too long: the value is the one to correct, the key no longer.
    await key.fill('env');
    await value.fill('v'.repeat(513));
    await page.keyboard.press('Enter');
    expect(await invalidity(key)).toEqual({ invalid: null, described: [] });
    expect(await invalidity(value)).toEqual({ invalid: 'true', described: ['Metadata values are at most 512 characters.'] });
    await value.fill('prod');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Remove filter env = prod' }).waitFor();
    expect(await invalidity(value)).toEqual({ invalid: null, described: [] });
    expect(await page.locator('.filters .error:not([hidden])').count()).toBe(0);

    // Dates that exclude each other: both are what to correct.
    await page.getByLabel('Created after').fill('2025-10-02T00:00:00');
    await page.getByLabel('Created after').press('Enter');
    await page.getByLabel('Created before').fill('2025-10-01T00:00:00');
    await page.getByLabel('Created before').press('Enter');
    const range = '"Created after" is not earlier than "Created before": no completion can match both.';
    await expect.poll(() => invalidity(page.getByLabel('Created before'))).toEqual({ invalid: 'true', described: [range] });
    expect(await invalidity(page.getByLabel('Created after'))).toEqual({ invalid: 'true', described: [range] });
    await page.getByLabel('Created before').fill('2025-10-03T00:00:00');
    await page.getByLabel('Created before').press('Enter');
    await expect.poll(() => invalidity(page.getByLabel('Created before'))).toEqual({ invalid: null, described: [] });
    expect(await invalidity(page.getByLabel('Created after'))).toEqual({ invalid: null, described: [] });
  });

  it('ties the sign-in form\'s error to the key field', async () => {
    const page = await suite.open();
    const key = page.getByRole('textbox', { name: 'API key' });
    // Spaces only: no key, which the page says before asking the service.
    await key.fill('   ');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await invalidity(key)).toEqual({ invalid: 'true', described: ['Enter an API key.'] });
    expect(await page.evaluate('document.activeElement.name')).toBe('api-key');
  });

  it('ties the metadata editor\'s and the tag form\'s errors to the field to correct, and takes the focus there', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, newest);

    // The selection's "Add tag": a value too long is the value's fault, where the focus goes (it went to the key).
    await page.getByRole('checkbox', { name: `Select ${newest[0]}` }).check();
    await page.getByRole('button', { name: 'Add tag' }).click();
    const tagForm = page.getByRole('form', { name: 'Add tag' });
    const tagKey = tagForm.getByRole('combobox', { name: 'Tag key' });
    const tagValue = tagForm.getByRole('combobox', { name: 'Tag value' });
    await tagKey.fill('dataset');
    await tagValue.fill('v'.repeat(513));
    await tagForm.getByRole('button', { name: 'Apply' }).click();
    const tooLong = 'The value of "dataset" is longer than 512 characters (513).';
    expect(await invalidity(tagValue)).toEqual({ invalid: 'true', described: [tooLong] });
    expect(await invalidity(tagKey)).toEqual({ invalid: null, described: [] });
    expect(await page.evaluate('document.activeElement.name')).toBe('tag-value');
    // Opened again, it starts clean.
    await tagForm.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Add tag' }).click();
    expect(await invalidity(tagValue)).toEqual({ invalid: null, described: [] });

    await page.goto(`${suite.service.origin}/#/completions/${newest[0]}`);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    const key = editor.getByRole('combobox', { name: 'Key', exact: true });
    const value = editor.getByRole('combobox', { name: 'Value', exact: true });
    await editor.getByRole('button', { name: 'Add pair' }).click();
    expect(await invalidity(key)).toEqual({ invalid: 'true', described: ['Enter a key and a value.'] });
    await key.fill('note');
    await value.fill('n'.repeat(513));
    await editor.getByRole('button', { name: 'Add pair' }).click();
    expect(await invalidity(key)).toEqual({ invalid: null, described: [] });
    expect(await invalidity(value)).toEqual({ invalid: 'true', described: ['The value of "note" is longer than 512 characters (513).'] });
    expect(await page.evaluate('document.activeElement.name')).toBe('value');
    await value.fill('short');
    await editor.getByRole('button', { name: 'Add pair' }).click();
    expect(await invalidity(value)).toEqual({ invalid: null, described: [] });
    expect(await editor.locator('.error:not([hidden])').count()).toBe(0);
  });
});
