import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { apiIds, contrastRatio, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_000_000;

/** Indented, with a line longer than any card: what wrapping in a proportional font made unreadable. */
const CODE = [
  'def greet(name):',
  '    if not name:',
  '        return "<script>window.__pwned = 1</script>"',
  `    return f"Hello, {name}! ${'This line goes on well past the width of any card. '.repeat(4)}"`,
].join('\n');
const REPLY = `Here is the function:\n\n\`\`\`python\n${CODE}\n\`\`\`\n\nCall it with a name.`;
const LONG_VALUE = `v${'0123456789'.repeat(40)}`;

describe.skipIf(!browserAvailable)('web UI: reading code, metadata, and a service that does not answer', () => {
  const ids: Record<string, string> = {};
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    ids.code = await seedCompletion(client, upstream, {
      created: BASE,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Write a greeting function.' }],
      replies: [{ content: REPLY }],
    });
    ids.metadata = await seedCompletion(client, upstream, {
      created: BASE + 1,
      model: 'gpt-4o',
      metadata: { note: LONG_VALUE },
      messages: [{ role: 'user', content: 'Tagged with a long note.' }],
    });
    ids.json = await seedCompletion(client, upstream, {
      created: BASE + 500,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Answer in JSON.' }],
      replies: [{ content: '{"name":"Ada","langs":["en","fr"],"born":1815}' }],
      request: { response_format: { type: 'json_object' } },
    });
    ids.deepseek = await seedCompletion(client, upstream, {
      created: BASE + 502,
      model: 'deepseek-reasoner',
      messages: [{ role: 'user', content: 'Is 91 prime?' }],
      replies: [{ content: 'No: 91 is 7 × 13.', reasoning_content: 'Try 7: 7 × 13 = 91, so it has a divisor.' }],
    });
    ids.mistral = await seedCompletion(client, upstream, {
      created: BASE + 503,
      model: 'magistral-small',
      messages: [{ role: 'user', content: 'Is 97 prime?' }],
      replies: [{ content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'No divisor up to 9 divides 97.' }] }, { type: 'text', text: 'Yes, 97 is prime.' }] }],
    });
    ids.noUsage = await seedCompletion(client, upstream, {
      created: BASE + 501,
      model: 'local-model',
      usage: null,
      messages: [{ role: 'user', content: 'A provider that counts nothing.' }],
    });
  });

  it('shows a fenced code block in a reply monospaced, its lines and indentation as written, scrolled not wrapped', async () => {
    const page = await suite.open(`#/completions/${ids.code}`);
    await signIn(page);
    const reply = page.locator('article.message', { hasText: 'Here is the function:' });
    const code = reply.locator('pre code');
    await code.waitFor();
    expect(await code.textContent()).toBe(CODE);
    expect(await reply.locator('.fenced .part-label').textContent()).toBe('python');
    // The fences themselves are markup, not words of the reply; the prose around them stays.
    expect(await reply.textContent()).not.toContain('```');
    expect(await reply.textContent()).toContain('Call it with a name.');
    const style = await code.evaluate((el) => {
      // No DOM types in this project's TypeScript, hence the loose `globalThis`.
      const css = (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(el.parentElement);
      const pre = el.parentElement!;
      return { whiteSpace: css.whiteSpace, font: css.fontFamily, overflowX: css.overflowX, scrolls: pre.scrollWidth > pre.clientWidth };
    });
    expect(style).toEqual({ whiteSpace: 'pre', font: expect.stringMatching(/mono/i), overflowX: 'auto', scrolls: true });
    // The long line scrolls inside its block: the page itself does not widen.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
  });

  it("folds a reasoning model's thinking away under the reply's heading, beside the reply or as a part, and opens it on a click", async () => {
    for (const [id, thinking, answer] of [
      [ids.deepseek, 'Try 7: 7 × 13 = 91, so it has a divisor.', 'No: 91 is 7 × 13.'],
      [ids.mistral, 'No divisor up to 9 divides 97.', 'Yes, 97 is prime.'],
    ] as const) {
      const page = await suite.open(`#/completions/${id}`);
      await signIn(page);
      const reply = page.locator('article.message', { hasText: answer });
      await reply.waitFor();
      const fold = reply.locator('details.thinking');
      expect(await fold.count()).toBe(1);
      expect(await fold.locator('summary').textContent()).toBe(`Thinking${thinking.length} characters`);
      expect(await fold.getAttribute('open')).toBeNull();
      expect(await reply.getByText(thinking).isVisible()).toBe(false);
      await fold.locator('summary').click();
      expect(await reply.getByText(thinking).isVisible()).toBe(true);
      // The thinking comes before the answer, as it was written.
      const order = await reply.evaluate((el, text) => (el.textContent ?? '').indexOf(text[0]) < (el.textContent ?? '').indexOf(text[1]), [thinking, answer]);
      expect(order).toBe(true);
      await page.close();
    }
  });

  it("marks an opened thinking off from the reply under it by an edge 3:1 against the message, light and dark", async () => {
    const page = await suite.open(`#/completions/${ids.deepseek}`);
    await signIn(page);
    const reply = page.locator('article.message', { hasText: 'No: 91 is 7 × 13.' });
    await reply.locator('details.thinking summary').click();
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const style = (target: typeof reply, name: string) =>
        target.evaluate((el, property) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(el)[property]!, name);
      const edge = await style(reply.locator('details.thinking'), 'borderLeftColor');
      const background = await style(reply, 'backgroundColor');
      expect(contrastRatio(edge, background), `${scheme} ${edge} on ${background}`).toBeGreaterThanOrEqual(3);
    }
  });

  it("shows a conversation's metadata whole, wrapped, not cut by an ellipsis", async () => {
    const page = await suite.open(`#/completions/${ids.metadata}`);
    await signIn(page);
    const chip = page.locator('.details').getByRole('link', { name: /^note: v0123/ });
    await chip.waitFor();
    const clipped = await chip.evaluate((el) => el.scrollWidth > el.clientWidth + 1);
    expect(clipped).toBe(false);
    expect(await chip.evaluate((el) => (el as unknown as { innerText: string }).innerText.replace(/\s/g, ''))).toBe(`note:${LONG_VALUE}`);
  });

  it('says when "Created after" is not earlier than "Created before", rather than only showing an empty list', async () => {
    const page = await suite.open(`#/?created_after=${BASE + 100}&created_before=${BASE - 100}`);
    await signIn(page);
    const said = '"Created after" is not earlier than "Created before": no completion can match both.';
    await expect.poll(() => page.getByRole('search', { name: 'Filters' }).getByRole('alert').filter({ hasText: 'Created after' }).textContent()).toBe(said);
    // Lengths differ (a string comparison would get this one wrong): a range the right way round says nothing.
    await page.goto(`${suite.service.origin}/#/?created_after=999999999&created_before=${BASE + 100}`);
    await expectRows(page, [ids.metadata!, ids.code!]);
    expect(await page.getByText(said).isVisible()).toBe(false);
  });

  it('an empty list without filters asks to check the key (a mistyped key signs in too, in pass-through mode)', async () => {
    const page = await suite.open();
    await signIn(page, 'sk-never-used-anywhere-0001');
    await expect.poll(() => page.locator('.summary').textContent()).toBe('No stored completions for this key yet: create one with "store": true. Expected some? Check the key ("Sign out", then sign in with it again).');
  });

  it("keeps each card's relative time true while the list stays open", async () => {
    const page = await suite.open();
    // Two minutes after the newest completion, with the page's clock under the test's hand from then on.
    await page.clock.install({ time: (BASE + 1 + 120) * 1000 });
    await page.reload();
    await signIn(page);
    const age = page.locator(`li.row[data-id="${ids.metadata}"] .relative`);
    await expect.poll(() => age.textContent()).toBe(' · 2 minutes ago');
    await page.clock.fastForward('58:00');
    await expect.poll(() => age.textContent()).toBe(' · 1 hour ago');
  });

  it("rewrites a card's relative time only when it changed: the minute's redraw leaves an hour-old list's cards alone", async () => {
    const page = await suite.open();
    await page.clock.install({ time: (BASE + 1 + 3600) * 1000 });
    await page.reload();
    await signIn(page);
    await expect.poll(() => page.locator(`li.row[data-id="${ids.metadata}"] .relative`).textContent()).toBe(' · 1 hour ago');
    // Each age span's text before and after the next minute's redraw, and the spans whose text was written meanwhile.
    const ages = () => page.locator('li.row .relative > span:last-child').allTextContents();
    const before = await ages();
    await page.evaluate(`{
      const spans = [...document.querySelectorAll('li.row .relative > span:last-child')];
      window.written = [];
      new MutationObserver((records) => {
        for (const record of records) window.written.push(spans.indexOf(record.target));
      }).observe(document.querySelector('ol.rows'), { childList: true, subtree: true, characterData: true });
    }`);
    await page.clock.fastForward('01:00');
    await page.evaluate('new Promise((resolve) => setTimeout(resolve, 0))');
    const after = await ages();
    const changed = before.flatMap((text, i) => (text === after[i] ? [] : [i]));
    expect(before.length).toBeGreaterThan(1);
    expect(await page.evaluate('[...new Set(window.written)]')).toEqual(changed);
  });

  it('says "now" of a completion a few seconds ahead of the browser\'s clock (the provider\'s clock), not "in 5 seconds"', async () => {
    const page = await suite.open();
    // The browser's clock 5 seconds behind the provider's, which stamped the newest completion.
    await page.clock.install({ time: (BASE + 1 - 5) * 1000 });
    await page.reload();
    await signIn(page);
    const age = page.locator(`li.row[data-id="${ids.metadata}"] .relative`);
    await expect.poll(() => age.textContent()).toBe(' · now');
    // A minute ahead or more is a clock that is wrong, and said as it is.
    await page.clock.setSystemTime((BASE + 1 - 130) * 1000);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => age.textContent()).toBe(' · in 2 minutes');
  });

  /** Every API request fails as when the service is down: no HTTP answer at all. */
  const serviceDown = (page: Page) => page.route('**/v1/**', (route) => route.abort('connectionrefused'));

  /** Signed in with the whole list shown, then the service gone and the list asked for oldest first, which fails; the ids newest first. */
  async function listThatFailed(page: Page): Promise<string[]> {
    await signIn(page);
    const all = await apiIds(suite.service, 'order=desc');
    await expectRows(page, all);
    await serviceDown(page);
    await page.getByRole('combobox', { name: 'Order' }).selectOption('asc');
    return all;
  }

  it('says the service did not answer (not "Failed to fetch") at sign-in', async () => {
    const page = await suite.open();
    await serviceDown(page);
    await page.getByRole('textbox', { name: 'API key' }).fill('sk-anything');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^The service did not answer/);
  });

  it('a list that failed to load offers "Try again", which loads it once the service is back', async () => {
    const page = await suite.open();
    const all = await listThatFailed(page);
    const alert = page.locator('.list-view > [role=alert]');
    await expect.poll(() => alert.textContent()).toMatch(/^The service did not answer/);
    const retry = page.getByRole('button', { name: 'Try again' });
    await retry.focus();
    await page.unroute('**/v1/**');
    await page.keyboard.press('Enter');
    await expectRows(page, [...all].reverse());
    expect(await alert.isVisible()).toBe(false);
    expect(await retry.isVisible()).toBe(false);
    // The button that had the focus is gone: the first row takes it, not the page's body.
    expect(await page.evaluate('document.activeElement?.textContent')).toBe(all.at(-1));
  });

  it('a conversation that failed to load offers "Try again"; the failed list behind it loads again when gone back to', async () => {
    const page = await suite.open();
    const all = await listThatFailed(page);
    await expect.poll(() => page.locator('.list-view > [role=alert]').textContent()).toMatch(/^The service did not answer/);
    await page.goto(`${suite.service.origin}/#/completions/${all[0]}`);
    const view = page.locator('.conversation-view');
    await expect.poll(() => view.getByRole('alert').textContent()).toMatch(/^The service did not answer/);
    // Only a reload of the whole page used to bring it back.
    const retry = view.getByRole('button', { name: 'Try again' });
    await retry.focus();
    await page.unroute('**/v1/**');
    await page.keyboard.press('Enter');
    await view.getByRole('heading', { name: 'Reply' }).waitFor();
    expect(await view.getByRole('alert').count()).toBe(0);
    expect(await page.evaluate('document.activeElement?.textContent')).toBe(all[0]);
    // The list behind it had failed: back there, it loads again instead of showing the old error.
    await page.goBack();
    await expectRows(page, [...all].reverse());
    expect(await page.locator('.list-view > [role=alert]').isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Try again' }).isVisible()).toBe(false);
  });

  it('a conversation that does not exist says so, with nothing to try again', async () => {
    const page = await suite.open('#/completions/chatcmpl-nope');
    await signIn(page);
    await expect.poll(() => page.locator('.conversation-view').getByRole('alert').textContent()).toMatch(/chatcmpl-nope/);
    expect(await page.getByRole('button', { name: 'Try again' }).count()).toBe(0);
  });

  it('pretty-prints a reply that is JSON, as it does a tool\'s result', async () => {
    const page = await suite.open(`#/completions/${ids.json}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    const reply = page.locator('article.message.role-assistant');
    expect(await reply.locator('.code').textContent()).toBe('{\n  "name": "Ada",\n  "langs": [\n    "en",\n    "fr"\n  ],\n  "born": 1815\n}');
  });

  it('says "no usage" in the conversation\'s facts, as its card does, when the provider sent none', async () => {
    const page = await suite.open(`#/?model=local-model`);
    await signIn(page);
    await expectRows(page, [ids.noUsage!]);
    expect(await page.locator('li.row .tokens').textContent()).toBe('no usage');
    await page.getByRole('link', { name: ids.noUsage! }).click();
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    expect(await page.locator('p.facts').textContent()).toMatch(/ · local-model · no usage · finish: stop$/);
  });
});
