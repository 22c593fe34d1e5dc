import { describe, expect, it } from 'vitest';
import { browserAvailable, waitForIdle } from './helpers/browser.ts';
import { seedCompletion, toolCallSpec } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { apiIds, expectRows, loadAll, rowIds, signIn, textBoxOf, unnamedControls, useUiSuite, utcInput } from './helpers/ui-page.ts';
import { UI_CONTENT_SECURITY_POLICY } from '../src/routes/ui.ts';

const BASE = 1_760_000_000;
const PLAIN = 45;
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>[click me](javascript:window.__pwned=1)';

describe.skipIf(!browserAvailable)('web UI: browsing', () => {
  let toolCallId: string;
  let twoChoicesId: string;
  let hostileId: string;
  let longId: string;
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (let i = 0; i < PLAIN; i++) {
      // Three completions per second: paging must hold across ties in `created`.
      await seedCompletion(client, upstream, {
        created: BASE + Math.floor(i / 3) * 60,
        model: i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        metadata: { env: i % 2 ? 'prod' : 'staging', user: `u_${i % 5}` },
        messages: [{ role: 'user', content: `Question ${i}: ${i % 9 === 0 ? 'where is the lighthouse' : 'how are you'}?` }],
        replies: [{ content: `Answer ${i}` }],
      });
    }
    toolCallId = await seedCompletion(client, upstream, toolCallSpec(BASE + 10_000, { env: 'prod' }));
    twoChoicesId = await seedCompletion(client, upstream, {
      created: BASE + 10_001,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Two taglines, please.' }],
      replies: [{ content: 'First tagline.' }, { content: 'Second tagline.', finish_reason: 'length' }],
    });
    hostileId = await seedCompletion(client, upstream, {
      created: BASE + 10_002,
      model: 'gpt-4o-mini',
      metadata: { note: '<b onmouseover="window.__pwned=1">bold</b>' },
      messages: [
        { role: 'system', content: HOSTILE },
        {
          role: 'user',
          content: [
            { type: 'text', text: HOSTILE },
            { type: 'image_url', image_url: { url: 'javascript:window.__pwned=1' } },
            { type: 'image_url', image_url: { url: 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1"><script>window.__pwned=1</script></svg>' } },
          ],
        },
      ],
      replies: [{ content: `Sure: ${HOSTILE}` }],
    });
    longId = await seedCompletion(client, upstream, {
      created: BASE + 10_003,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `Long start ${'x'.repeat(1_000_000)} long end` }],
      replies: [{ content: 'ok' }],
    });
  });
  const open = (hash?: string) => suite.open(hash);

  it('signs in and lists the newest completions first, sending the key only as a header to this origin', async () => {
    const page = await open();
    const requests: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => requests.push({ url: request.url(), authorization: request.headers().authorization }));
    await signIn(page);
    const newest = (await apiIds(suite.service, 'order=desc')).slice(0, 20);
    await expectRows(page, newest);
    expect(newest[0]).toBe(longId);
    const row = page.locator('li.row', { has: page.getByRole('link', { name: toolCallId, exact: true }) });
    await expect.poll(() => row.textContent()).toContain('What is the weather in Paris right now?');
    const text = await row.textContent();
    expect(text).toContain('gpt-4o-mini');
    expect(text).toContain('113 tokens');
    expect(text).toContain('It is 18 °C in Paris with light rain');
    expect(text).toContain('env: prod');
    expect(text).toContain('stop');
    expect(text).toContain(new Date((BASE + 10_000) * 1000).getUTCFullYear().toString());
    for (const request of requests) {
      expect(request.url.startsWith(`${suite.service.origin}/`), request.url).toBe(true);
      expect(request.url).not.toContain(DEFAULT_KEY);
      if (request.url.includes('/v1/')) expect(request.authorization).toBe(`Bearer ${DEFAULT_KEY}`);
      else expect(request.authorization).toBeUndefined();
    }
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });

  it('pages to the end with Load more, nothing skipped or repeated, in either order', async () => {
    const page = await open();
    await signIn(page);
    await loadAll(page);
    const all = await apiIds(suite.service, 'order=desc');
    expect(all).toHaveLength(PLAIN + 4);
    expect(await rowIds(page)).toEqual(all);
    await expect.poll(() => page.locator('.summary').textContent()).toBe(`Showing all ${PLAIN + 4} completions.`);

    await page.getByRole('combobox', { name: 'Order' }).selectOption('asc');
    await page.waitForURL(/order=asc/);
    await expectRows(page, all.slice().reverse().slice(0, 20));
    await loadAll(page);
    expect(await rowIds(page)).toEqual(all.slice().reverse());
    // Back: the newest-first list as it was left, every page loaded, not page one again.
    await page.goBack();
    await expectRows(page, all);
  });

  it('lays the cards out in block flow, 0.5rem apart: a page loaded lays out its own cards, not every card again', async () => {
    const page = await open();
    await signIn(page);
    await loadAll(page);
    // A flex column (its gap between the cards) ran the flex algorithm over every card loaded at each "Load more":
    // 30-150 ms of layout a page with 1,200 cards, where block flow lays out the 20 new ones.
    const layout = (await page.evaluate(`(() => {
      const rows = document.querySelector('ol.rows');
      const [first, second] = rows.children;
      return { display: getComputedStyle(rows).display, apart: second.getBoundingClientRect().top - first.getBoundingClientRect().bottom };
    })()`)) as { display: string; apart: number };
    expect(layout).toEqual({ display: 'block', apart: 8 });
  });

  it('filters by model and metadata pairs (AND), all held in the URL, with back and forward', async () => {
    const page = await open();
    await signIn(page);

    await page.getByRole('combobox', { name: 'Model' }).fill('gpt-4o');
    await page.waitForURL(/model=gpt-4o/);
    await loadAll(page);
    await expectRows(page, await apiIds(suite.service, 'model=gpt-4o&order=desc'));
    expect((await rowIds(page)).length).toBe(15 + 1);

    await page.getByRole('combobox', { name: 'Key', exact: true }).fill('env');
    await page.getByRole('combobox', { name: 'Value', exact: true }).fill('prod');
    await page.getByRole('button', { name: 'Add metadata filter' }).click();
    await expectRows(page, await apiIds(suite.service, 'model=gpt-4o&metadata[env]=prod&order=desc'));
    await page.getByRole('combobox', { name: 'Key', exact: true }).fill('user');
    await page.getByRole('combobox', { name: 'Value', exact: true }).fill('u_3');
    await page.getByRole('combobox', { name: 'Value', exact: true }).press('Enter');
    const both = await apiIds(suite.service, 'model=gpt-4o&metadata[env]=prod&metadata[user]=u_3&order=desc');
    expect(both.length).toBeGreaterThan(0);
    await expectRows(page, both);
    expect(page.url()).toContain('metadata%5Benv%5D=prod');

    // Back undoes the last filter; forward brings it again.
    await page.goBack();
    await expectRows(page, await apiIds(suite.service, 'model=gpt-4o&metadata[env]=prod&order=desc'));
    await page.goForward();
    await expectRows(page, both);

    // A removed chip drops its pair; the shared URL opens the same view in a new tab.
    await page.getByRole('button', { name: 'Remove filter env = prod' }).click();
    const userOnly = await apiIds(suite.service, 'model=gpt-4o&metadata[user]=u_3&order=desc');
    await expectRows(page, userOnly);
    const shared = await open(new URL(page.url()).hash);
    await signIn(shared);
    await expectRows(shared, userOnly);
    expect(await shared.getByRole('combobox', { name: 'Model' }).inputValue()).toBe('gpt-4o');

  });

  it('filters by a created range and by full-text search', async () => {
    const page = await open();
    await signIn(page);
    await page.getByRole('textbox', { name: 'Created after' }).fill(utcInput(BASE + 5 * 60));
    await page.getByRole('textbox', { name: 'Created before' }).fill(utcInput(BASE + 9 * 60));
    const range = await apiIds(suite.service, `created_after=${BASE + 5 * 60}&created_before=${BASE + 9 * 60}&order=desc`);
    expect(range).toHaveLength(12);
    await expectRows(page, range);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    // Typed in two pauses, one word is one history entry.
    const search = page.getByRole('searchbox', { name: 'Search' });
    await search.fill('lightho');
    await page.waitForURL(/search=lightho$/);
    // A part of a word finds nothing: said, or it read as "nothing was stored about lighthouses".
    await expect.poll(() => page.locator('.summary').textContent()).toBe(
      'No completions match these filters. Search finds whole words, every one of them: "refund" does not find "refunds" or "refunded". It reads the text of messages and replies, not tool calls.',
    );
    // Emoji alone are no word the service searches for: said so, not that the word was partial.
    await search.fill('🎉 ✨');
    await page.waitForURL(/search=/);
    await expect.poll(() => page.locator('.summary').textContent()).toBe(
      'No completions match these filters. Emoji and symbols alone are not searched: a search needs a word with a letter or digit.',
    );
    await search.fill('lighthouse');
    await search.press('Enter');
    const found = await apiIds(suite.service, 'search=lighthouse&order=desc');
    expect(found).toHaveLength(5);
    await expectRows(page, found);
    expect(page.url()).toContain('search=lighthouse');
    await page.goBack();
    await expect.poll(() => new URL(page.url()).hash).toBe('#/');
  });

  it('keeps a date filter while a part of its field is typed again, and says a date without its time is incomplete', async () => {
    // 2025-10-09 08:58:20 UTC.
    const page = await open(`#/?created_after=${BASE + 5 * 60}`);
    await signIn(page);
    await expectRows(page, (await apiIds(suite.service, `created_after=${BASE + 5 * 60}&order=desc`)).slice(0, 20));
    const rows = await rowIds(page);
    const after = page.getByRole('textbox', { name: 'Created after' });
    // The minute deleted to type another (month, day, year, hour, then minute): the field reads "" meanwhile, which
    // dropped the filter at the first Backspace, the list unfiltered and the rest of the field wiped.
    await after.focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Backspace');
    await page.getByText('"Created after" is incomplete: fill in each part of its date and time, or clear them all.').waitFor();
    await waitForIdle(page);
    expect(new URL(page.url()).hash).toBe(`#/?created_after=${BASE + 5 * 60}`);
    expect(await rowIds(page)).toEqual(rows);
    // Another filter applied meanwhile keeps the date the list has, not the incomplete field's "".
    await page.getByRole('searchbox', { name: 'Search' }).fill('lighthouse');
    await page.getByRole('searchbox', { name: 'Search' }).press('Enter');
    await page.waitForURL((url) => url.hash === `#/?created_after=${BASE + 5 * 60}&search=lighthouse`);

    await after.focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.type('30');
    const retyped = Date.parse('2025-10-09T08:30:20Z') / 1000;
    await page.waitForURL((url) => url.hash === `#/?created_after=${retyped}&search=lighthouse`);
    await expectRows(page, await apiIds(suite.service, `created_after=${retyped}&search=lighthouse&order=desc`));
    expect(await page.getByRole('alert').filter({ hasText: 'incomplete' }).count()).toBe(0);

    // A day typed without its time changes nothing (the field still reads ""): Enter says why.
    await page.getByRole('textbox', { name: 'Created before' }).focus();
    await page.keyboard.type('10092025');
    await page.keyboard.press('Enter');
    await page.getByText('"Created before" is incomplete: fill in each part of its date and time, or clear them all.').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/?created_after=${retyped}&search=lighthouse`);
  });

  it('sets "Created after" to a quick range back from now, and clears "Created before"', async () => {
    const page = await open(`#/?created_before=${BASE + 60}`);
    // A minute after the newest completion, on the page's clock.
    const now = BASE + 10_003 + 60;
    // Fixed, not flowing: a slow machine must not carry the second click's "now" a second past the test's.
    await page.clock.setFixedTime(now * 1000);
    await signIn(page);
    await page.getByRole('button', { name: 'Created in the last hour' }).click();
    await page.waitForURL((url) => url.hash === `#/?created_after=${now - 3600}`);
    const lastHour = await apiIds(suite.service, `created_after=${now - 3600}&order=desc`);
    expect(lastHour).toEqual([longId, hostileId, twoChoicesId, toolCallId]);
    await expectRows(page, lastHour);
    expect(await page.getByRole('textbox', { name: 'Created after' }).inputValue()).not.toBe('');
    expect(await page.getByRole('textbox', { name: 'Created before' }).inputValue()).toBe('');

    await page.getByRole('button', { name: 'Created in the last 30 days' }).click();
    await page.waitForURL((url) => url.hash === `#/?created_after=${now - 30 * 86_400}`);
    await expectRows(page, (await apiIds(suite.service, `created_after=${now - 30 * 86_400}&order=desc`)).slice(0, 20));
  });

  it('shows the usage of the current filter as a chart and a table', async () => {
    const page = await open('#/?model=gpt-4o-mini');
    await signIn(page);
    await page.getByRole('button', { name: 'Usage' }).click();
    await page.waitForURL(/usage=1/);
    const panel = page.getByRole('region', { name: 'Usage' });
    await expect.poll(() => panel.getByRole('img').count()).toBe(2);
    const usage = await (await suite.service.request('/v1/stored-completions/usage?model=gpt-4o-mini')).json() as { data: { model: string; completions: number; total_tokens: number }[] };
    const completions = usage.data.reduce((a, item) => a + item.completions, 0);
    expect(completions).toBe(30 + 3);
    const table = panel.getByRole('table', { name: 'Per model' });
    const cells = await table.getByRole('row').nth(1).getByRole('cell').allTextContents();
    expect(cells[0]).toBe(String(completions));
    expect(await unnamedControls(page)).toEqual([]);
  });

  it('shows a tool-call conversation with the arguments pretty-printed beside the tool result', async () => {
    const page = await open();
    await signIn(page);
    await page.getByRole('link', { name: toolCallId, exact: true }).click();
    await page.waitForURL(new RegExp(`#/completions/${toolCallId}\\?order=desc$`));
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    const call = page.locator('.tool-call');
    expect(await call.locator('.code').first().textContent()).toBe('{\n  "city": "Paris",\n  "unit": "c"\n}');
    expect(await call.locator('.tool-result').textContent()).toContain('"condition": "light rain"');
    expect(await call.textContent()).toContain('get_weather');
    const main = await page.locator('main').textContent();
    expect(main).toContain('You are a concise travel assistant.');
    expect(main).toContain('It is 18 °C in Paris with light rain: take an umbrella.');
    const details = page.getByRole('complementary', { name: 'Details' });
    expect(await details.textContent()).toContain('Temperature0.2');
    expect(await details.textContent()).toContain('Seed42');
    expect(await details.textContent()).toContain('Total tokens113');
    await page.locator('details.raw summary').click();
    expect(await page.locator('details.raw').textContent()).toContain(`"id": "${toolCallId}"`);
    expect(await unnamedControls(page)).toEqual([]);

    // The copy buttons put the id and a replay that really sends the same request on the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.service.origin });
    // The copy is written after the click returns (the clipboard's write is a promise): read until it is there.
    const clipboard = () => page.evaluate('navigator.clipboard.readText()') as Promise<string>;
    await page.getByRole('button', { name: 'Copy id' }).click();
    await expect.poll(clipboard).toBe(toolCallId);
    await page.getByRole('button', { name: 'Copy curl command' }).click();
    await expect.poll(clipboard).toMatch(/^curl /);
    const curl = await clipboard();
    expect(curl.split('\n').slice(0, 4)).toEqual([
      `curl ${suite.service.origin}/v1/chat/completions \\`,
      '  -H "Authorization: Bearer $OPENAI_API_KEY" \\',
      "  -H 'Content-Type: application/json' \\",
      "  -d @- <<'JSON'",
    ]);
    const body = curl.slice(curl.indexOf('\n{') + 1, curl.lastIndexOf('\nJSON'));
    const replayed = await suite.service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(replayed.status, await replayed.clone().text()).toBe(200);
    const replayedId = ((await replayed.json()) as { id: string }).id;
    const messagesOf = async (id: string) =>
      ((await (await suite.service.request(`/v1/chat/completions/${id}/messages`)).json()) as { data: { id: string }[] }).data.map(({ id: _, ...m }) => m);
    expect(await messagesOf(replayedId)).toEqual(await messagesOf(toolCallId));
    const echoed = async (id: string) => {
      const { temperature, seed, tools, metadata } = (await (await suite.service.request(`/v1/chat/completions/${id}`)).json()) as Record<string, unknown>;
      return { temperature, seed, tools, metadata };
    };
    expect(await echoed(replayedId)).toEqual(await echoed(toolCallId));
    await suite.service.request(`/v1/chat/completions/${replayedId}`, { method: 'DELETE' });
    await page.getByRole('button', { name: 'Copy openai snippet' }).click();
    await expect.poll(clipboard).toContain(`const client = new OpenAI({ baseURL: '${suite.service.origin}/v1' });`);
    await page.getByRole('link', { name: '← Completions' }).click();
    await expect.poll(() => page.evaluate('document.activeElement.textContent')).toBe(toolCallId);
  });

  it('shows every choice of an n=2 completion', async () => {
    const page = await open(`#/completions/${twoChoicesId}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Choices (2)' }).waitFor();
    const choices = page.locator('.conversation article.role-assistant');
    expect(await choices.count()).toBe(2);
    // Each card ends with its "Copy".
    expect(await choices.nth(0).textContent()).toBe('Choice 0 · finish reason: stopFirst tagline.Copy');
    expect(await choices.nth(1).textContent()).toBe('Choice 1 · finish reason: lengthSecond tagline.Copy');
    // The one cut off says so in the danger colour, as the facts' "finish: stop, length" does; the other stays muted.
    const colours = (await page.evaluate(`(() => {
      const colour = (el) => getComputedStyle(el).color;
      const choices = [...document.querySelectorAll('.conversation article.role-assistant .finish')];
      return { facts: colour(document.querySelector('.conversation-view .finish.cut')), choices: choices.map((span) => [span.className, colour(span)]) };
    })()`)) as { facts: string; choices: [string, string][] };
    expect(colours.choices.map(([name]) => name)).toEqual(['finish muted', 'finish cut']);
    expect(colours.choices[1]![1]).toBe(colours.facts);
    expect(colours.choices[0]![1]).not.toBe(colours.facts);
  });

  it('keeps hostile content as text: nothing runs, nothing is linked, the CSP is strict', async () => {
    const response = await fetch(`${suite.service.origin}/`);
    expect(response.headers.get('content-security-policy')).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(UI_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(UI_CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');

    const page = await open();
    await signIn(page);
    const row = page.locator('li.row', { has: page.getByRole('link', { name: hostileId, exact: true }) });
    await expect.poll(() => row.textContent()).toContain('<img src=x onerror="window.__pwned=1">');
    await row.getByRole('button', { name: /note: / }).hover();
    await page.getByRole('link', { name: hostileId, exact: true }).click();
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    const main = (await page.locator('main').textContent()) ?? '';
    expect(main).toContain('<script>window.__pwned=1</script>');
    expect(main).toContain('[click me](javascript:window.__pwned=1)');
    expect(main).toContain('Image (not shown)');
    await page.locator('img').first().hover().catch(() => {});
    await page.waitForTimeout(300);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('main script, main a[href^="javascript:"], main [onerror], main [onload], main [onmouseover]').count()).toBe(0);
    expect(await page.locator('main img').count()).toBe(1);
  });

  it('collapses a 1 MB message behind Show more', async () => {
    const page = await open(`#/completions/${longId}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    const user = page.locator('article.role-user');
    expect(await user.textContent()).toContain('997,020 more characters');
    expect(((await user.locator('.text').textContent()) ?? '').length).toBe(3000);
    await user.getByRole('button', { name: 'Show more' }).click();
    expect(((await user.locator('.text').textContent()) ?? '').length).toBe(103_000);
  });

  it('works from the keyboard alone: sign in, open a conversation, come back', async () => {
    const page = await open();
    await page.keyboard.type(DEFAULT_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const first = (await apiIds(suite.service, 'order=desc'))[0]!;
    await expectRows(page, (await apiIds(suite.service, 'order=desc')).slice(0, 20));
    expect(await unnamedControls(page)).toEqual([]);
    // Tab until the first row's link has focus, then open it with Enter.
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate('document.activeElement.textContent')) === first) break;
    }
    expect(await page.evaluate('document.activeElement.textContent')).toBe(first);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`#/completions/${first}\\?order=desc$`));
    // Waits for the heading itself: until the view is redrawn, the row's link (same text) still has focus.
    await expect.poll(() => page.evaluate('document.activeElement.tagName')).toBe('H1');
    expect(await page.evaluate('document.activeElement.textContent')).toBe(first);
    await page.goBack();
    await expect.poll(() => page.evaluate('document.activeElement.className')).toBe('row-link');
  });

  it('gives each date filter the width of a whole date and time at every window width', async () => {
    const page = await open();
    await signIn(page);
    // "12/05/2026, 02:26:31 PM" with its picker button: at 1024 and 1280 the fields were 172 and 206 px, cut before AM/PM.
    for (const width of [1280, 1180, 1024, 901, 820, 390]) {
      await page.setViewportSize({ width, height: 900 });
      // On a phone the dates are behind "More filters".
      if (width === 390) await page.getByRole('button', { name: 'More filters' }).click();
      const widths = await page.locator('input[type=datetime-local]').evaluateAll((inputs) => inputs.map((input) => input.getBoundingClientRect().width));
      expect({ width, enough: widths.map((field) => field >= 260) }).toEqual({ width, enough: [true, true] });
    }
  });

  it('on a phone, shows Search and the first completions on the first screen, the other filters behind "More filters"', async () => {
    const page = await open('#/?model=gpt-4o&order=asc');
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await page.locator('ol.rows li').first().waitFor();
    const more = page.getByRole('button', { name: 'More filters (2 set)' });
    expect(await more.getAttribute('aria-expanded')).toBe('false');
    const model = page.getByRole('combobox', { name: 'Model' });
    expect(await model.isVisible()).toBe(false);
    expect(await page.getByRole('searchbox', { name: 'Search' }).isVisible()).toBe(true);
    const firstRowTop = await page.locator('ol.rows li').first().evaluate((row) => row.getBoundingClientRect().top);
    expect(firstRowTop).toBeLessThan(844 - 100);

    await more.click();
    const fewer = page.getByRole('button', { name: 'Fewer filters' });
    expect(await fewer.getAttribute('aria-expanded')).toBe('true');
    expect(await model.inputValue()).toBe('gpt-4o');
    expect(await page.getByRole('combobox', { name: 'Order' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Add metadata filter' }).isVisible()).toBe(true);

    // Closed again, then wider: the form is whole and the button gone.
    await fewer.click();
    await page.setViewportSize({ width: 1024, height: 844 });
    expect(await page.locator('.more-filters').isVisible()).toBe(false);
    expect(await model.isVisible()).toBe(true);
  });

  it('shows a completion a line with "Compact", kept for the next visit, each line opening its conversation', async () => {
    const page = await open();
    await signIn(page);
    const compact = page.getByRole('button', { name: 'Compact' });
    const row = page.locator(`li.row[data-id="${toolCallId}"]`);
    await row.waitFor();
    expect(await compact.getAttribute('aria-pressed')).toBe('false');
    const cardHeight = await row.evaluate((element) => element.getBoundingClientRect().height);
    expect(cardHeight).toBeGreaterThan(80);

    await compact.click();
    expect(await compact.getAttribute('aria-pressed')).toBe('true');
    const ids = await rowIds(page);
    // One line each, in the same order, every line as tall as the others: the previews, model and tokens side by side.
    const heights = await page.locator('li.row').evaluateAll((rows) => rows.map((element) => Math.round(element.getBoundingClientRect().height)));
    expect(heights).toHaveLength(ids.length);
    expect(Math.max(...heights)).toBeLessThan(40);
    expect(new Set(heights).size).toBe(1);
    await expect.poll(() => row.locator('.user-preview .preview-text').innerText()).toBe('What is the weather in Paris right now?');
    expect(await row.locator('.model').isVisible()).toBe(true);
    expect(await row.locator('.chips').isVisible()).toBe(false);
    // The time in the width of a column ("Oct 9, 2025", or "Dec 5, 1:52 AM" this year), not the age: a day of
    // completions all read "yesterday". The full time and the model are the line's tooltip, wherever the pointer is.
    const created = BASE + 10_000;
    const short = new Date(created * 1000).getFullYear() === new Date().getFullYear()
      ? new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' })
      : new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' });
    expect(await row.locator('time').innerText()).toBe(short.format(new Date(created * 1000)));
    const full = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(created * 1000));
    expect(await row.locator('a.row-link').getAttribute('title')).toBe(`${toolCallId} · ${full} · gpt-4o-mini`);
    // The id cut in the middle: its shared "chatcmpl-" out of sight and its end, which tells ids apart, in sight (a
    // cut at the end showed "chatcmpl-" and a few characters on every line); the link's text and name the whole id.
    const link = row.locator('a.row-link');
    const linkBox = (await link.boundingBox())!;
    const idBox = (needle: string) => textBoxOf(page, `li.row[data-id="${toolCallId}"] a.row-link`, needle);
    const end = (await idBox(toolCallId.slice(-6)))!;
    expect(end.left).toBeGreaterThan(linkBox.x + linkBox.width / 2);
    expect(end.right).toBeLessThanOrEqual(linkBox.x + linkBox.width + 0.5);
    expect((await link.locator('.id-prefix').boundingBox())!.width).toBeLessThanOrEqual(1);
    expect(await link.textContent()).toBe(toolCallId);
    expect(await page.getByRole('link', { name: toolCallId, exact: true }).count()).toBe(1);
    expect(await page.evaluate('localStorage.getItem("stored-completions.list-density")')).toBe('compact');
    // An n = 2 completion says so before its reply, the card's "2 choices" having no room on a line, and that one
    // of its replies was cut off (its second choice's finish reason is "length").
    const before = (id: string) =>
      page.locator(`li.row[data-id="${id}"] .reply-preview`).evaluate(
        (element) => (globalThis as unknown as { getComputedStyle(e: unknown, pseudo: string): { content: string } }).getComputedStyle(element, '::before').content,
      );
    expect(await before(twoChoicesId)).toBe('"2 choices · cut off (length) ·"');
    expect(await before(toolCallId)).toBe('none');

    // The next visit keeps it; a click anywhere on a line opens its conversation.
    await page.reload();
    await row.waitFor();
    expect(await compact.getAttribute('aria-pressed')).toBe('true');
    expect(await row.evaluate((element) => element.getBoundingClientRect().height)).toBeLessThan(40);
    const tokens = await row.locator('.tokens').boundingBox();
    await page.mouse.click(tokens!.x + tokens!.width / 2, tokens!.y + tokens!.height / 2);
    await page.waitForURL(`**/#/completions/${toolCallId}?order=desc`);
    await page.goBack();
    await row.waitFor();

    // Between a phone and a laptop (or a laptop at 200%), the messages keep room of their own: a second line.
    await page.setViewportSize({ width: 700, height: 844 });
    const preview = await row.locator('.user-preview').boundingBox();
    expect(preview!.width).toBeGreaterThan(250);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(700);
    // A phone's width: still no sideways scroll.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(390);
    await page.setViewportSize({ width: 1280, height: 800 });

    await compact.click();
    expect(await compact.getAttribute('aria-pressed')).toBe('false');
    expect(await row.evaluate((element) => element.getBoundingClientRect().height)).toBeGreaterThan(80);
    expect(await page.evaluate('localStorage.getItem("stored-completions.list-density")')).toBe('cards');
  });

  it('fits a phone\'s width: no view scrolls sideways', async () => {
    const page = await open();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    for (const hash of ['#/?usage=1', `#/completions/${toolCallId}`, `#/completions/${hostileId}`]) {
      await page.goto(`${suite.service.origin}/${hash}`);
      await waitForIdle(page);
      expect(await page.evaluate('document.documentElement.scrollWidth'), hash).toBe(390);
    }
  });
});
