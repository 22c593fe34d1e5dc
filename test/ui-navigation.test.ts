import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_100_000;
/** More than a page (20 rows): coming back must keep the second page loaded. */
const COUNT = 25;

describe.skipIf(!browserAvailable)('web UI: coming back to the list, deep links, the skip link', () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (let i = 0; i < COUNT; i++) {
      await seedCompletion(client, upstream, {
        created: BASE + i,
        model: 'gpt-4o-mini',
        metadata: { env: i % 2 === 0 ? 'prod' : 'dev' },
        messages: [{ role: 'user', content: `Message ${i}` }],
      });
    }
  });

  const focusedText = (page: import('playwright-core').Page) => page.evaluate('document.activeElement?.textContent ?? null');

  it('after a save and after a delete, the list keeps the pages it had loaded and focus comes back to a row', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, all);

    // Save: the row stays where it was, drawn with its new metadata, and takes the focus back.
    const saved = all[21]!;
    await page.getByRole('link', { name: saved, exact: true }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('reviewed');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('yes');
    await editor.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).waitFor();
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, all);
    await expect.poll(() => focusedText(page)).toBe(saved);
    const env = ((await (await suite.service.request(`/v1/chat/completions/${saved}`)).json()) as { metadata: { env: string } }).metadata.env;
    const chips = page.locator(`ol.rows li[data-id="${saved}"] .chips`).getByRole('button');
    expect(await chips.allTextContents()).toEqual([`env: ${env}`, 'reviewed: yes']);

    // Delete: the row goes, the other 24 stay, and focus goes to the row that followed it.
    const deleted = all[22]!;
    await page.getByRole('link', { name: deleted, exact: true }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this completion?' }).getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL((url) => url.hash === '#/');
    await expectRows(page, all.filter((id) => id !== deleted));
    await expect.poll(() => focusedText(page)).toBe(all[23]);
    expect(await page.locator('.summary').textContent()).toBe(`Showing all ${COUNT - 1} completions.`);
  });

  it('a conversation opened from the list leads to the one before and after it there, and back to the list on the last one read', async () => {
    const prod = await apiIds(suite.service, 'order=asc&metadata[env]=prod');
    const page = await suite.open('#/?metadata[env]=prod&order=asc');
    await signIn(page);
    await expectRows(page, prod.slice(0, 20));
    const heading = () => page.locator('h1.completion-id').textContent();
    const top = page.getByRole('navigation', { name: 'Completions in the list (top)' });
    const previous = top.getByRole('link', { name: 'Previous', exact: true });
    const next = top.getByRole('link', { name: 'Next', exact: true });

    // A row's address names its list (it was the bare `#/completions/ID`, which gave a copied link no neighbours).
    const view = 'metadata%5Benv%5D=prod&order=asc';
    expect(await page.getByRole('link', { name: prod[0], exact: true }).getAttribute('href')).toBe(`#/completions/${prod[0]}?${view}`);
    await page.getByRole('link', { name: prod[0], exact: true }).click();
    await expect.poll(heading).toBe(prod[0]);
    expect(new URL(page.url()).hash).toBe(`#/completions/${prod[0]}?${view}`);
    // The first has nothing before it in the list: the word stays, a link to nowhere.
    expect({ disabled: await previous.getAttribute('aria-disabled'), href: await previous.getAttribute('href') }).toEqual({ disabled: 'true', href: null });
    expect(await next.getAttribute('href')).toBe(`#/completions/${prod[1]}?${view}`);
    await next.click();
    await expect.poll(heading).toBe(prod[1]);
    // The same pair under the conversation, where its reader ends up.
    await page.getByRole('navigation', { name: 'Completions in the list (end)' }).getByRole('link', { name: 'Next', exact: true }).click();
    await expect.poll(heading).toBe(prod[2]);
    await previous.click();
    await expect.poll(heading).toBe(prod[1]);
    expect(await previous.getAttribute('href')).toBe(`#/completions/${prod[0]}?${view}`);
    // Its address, copied into a new tab, has the same neighbours.
    const copied = await suite.open(new URL(page.url()).hash);
    await signIn(copied);
    await expect.poll(() => copied.locator('h1.completion-id').textContent()).toBe(prod[1]);
    const copiedTop = copied.getByRole('navigation', { name: 'Completions in the list (top)' });
    expect(await copiedTop.getByRole('link', { name: 'Previous', exact: true }).getAttribute('href')).toBe(`#/completions/${prod[0]}?${view}`);
    expect(await copiedTop.getByRole('link', { name: 'Next', exact: true }).getAttribute('href')).toBe(`#/completions/${prod[2]}?${view}`);

    // Back to the list: it is as it was, the last conversation read in focus.
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, prod.slice(0, 20));
    await expect.poll(() => focusedText(page)).toBe(prod[1]);

    // The list's last row has no "Next"; a conversation opened by a link, with no list drawn, has neither.
    await page.getByRole('link', { name: prod[prod.length - 1], exact: true }).click();
    await expect.poll(heading).toBe(prod[prod.length - 1]);
    expect(await next.getAttribute('aria-disabled')).toBe('true');
    const linked = await suite.open(`#/completions/${prod[1]}`);
    await signIn(linked);
    await expect.poll(() => linked.locator('h1.completion-id').textContent()).toBe(prod[1]);
    expect(await linked.locator('.neighbours').count()).toBe(0);
  });

  it('a row\'s address follows the usage panel turned on and off, the cards kept', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    const href = () => page.getByRole('link', { name: all[3], exact: true }).getAttribute('href');
    expect(await href()).toBe(`#/completions/${all[3]}?order=desc`);
    await page.getByRole('button', { name: 'Usage' }).click();
    await expect.poll(href).toBe(`#/completions/${all[3]}?order=desc&usage=1`);
    await page.getByRole('link', { name: all[3], exact: true }).click();
    await page.getByRole('link', { name: '← Completions' }).click();
    await page.getByRole('button', { name: 'Usage' }).click();
    await expect.poll(href).toBe(`#/completions/${all[3]}?order=desc`);
  });

  it('"Next" on the last row loaded loads the list\'s next page and goes on to its first', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    await page.getByRole('link', { name: all[19], exact: true }).click();
    await expect.poll(() => page.locator('h1.completion-id').textContent()).toBe(all[19]);
    await page.getByRole('navigation', { name: 'Completions in the list (top)' }).getByRole('button', { name: 'Next', exact: true }).click();
    await expect.poll(() => page.locator('h1.completion-id').textContent()).toBe(all[20]);
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, all);
    await expect.poll(() => focusedText(page)).toBe(all[20]);
  });

  it('"Next" whose page fails says why where the user is and tries again; left before it loads, it takes nobody anywhere', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    const nextPage = `**/v1/chat/completions?*after=${all[19]}*`;
    await page.route(nextPage, (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null } }) }));
    await page.getByRole('link', { name: all[19], exact: true }).click();
    const top = page.getByRole('navigation', { name: 'Completions in the list (top)' });
    await top.getByRole('button', { name: 'Next', exact: true }).click();
    await expect.poll(() => top.getByRole('alert').textContent()).toBe('More could not be loaded: The database is unavailable; please retry your request shortly.');
    expect(await page.locator('h1.completion-id').textContent()).toBe(all[19]);

    // The page answers late; the user goes back to the list meanwhile, and stays there once it has come. Held until
    // the list is shown (a fixed delay could run out before "← Completions" on a busy machine, and prove nothing).
    await page.unroute(nextPage);
    let answer!: () => void;
    const leftForTheList = new Promise<void>((resolve) => (answer = resolve));
    let answered!: () => void;
    const late = new Promise<void>((resolve) => (answered = resolve));
    await page.route(nextPage, async (route) => {
      await leftForTheList;
      await route.continue();
      answered();
    });
    await top.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByRole('link', { name: '← Completions' }).click();
    await expect.poll(() => page.evaluate('location.hash')).toBe('#/');
    answer();
    await late;
    await expectRows(page, all);
    await page.waitForTimeout(300);
    expect(new URL(page.url()).hash).toBe('#/');
    expect(await page.locator('h1.completion-id').count()).toBe(0);
  });

  it('"Next" on the last row loaded, pressed from the keyboard, keeps the focus where the list turns out to end', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    // The rest deleted since the first page came: the next page is empty.
    await page.route(`**/v1/chat/completions?*after=${all[19]}*`, (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ object: 'list', data: [], first_id: null, last_id: null, has_more: false }) }));
    await page.getByRole('link', { name: all[19], exact: true }).click();
    const top = page.getByRole('navigation', { name: 'Completions in the list (top)' });
    await top.getByRole('button', { name: 'Next', exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => top.locator('[data-neighbour=next]').getAttribute('aria-disabled')).toBe('true');
    expect(await page.evaluate('[document.activeElement.getAttribute("data-neighbour"), document.activeElement.getAttribute("aria-disabled")]')).toEqual(['next', 'true']);
    expect(await page.locator('h1.completion-id').textContent()).toBe(all[19]);
  });

  it('a saved change that leaves the filter takes the row out of the filtered list', async () => {
    const prod = await apiIds(suite.service, 'metadata[env]=prod&order=desc');
    const page = await suite.open('#/?metadata[env]=prod');
    await signIn(page);
    await expectRows(page, prod.slice(0, 20));
    const moved = prod[3]!;
    await page.getByRole('link', { name: moved, exact: true }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('button', { name: 'Change env' }).click();
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('staging');
    await editor.getByRole('button', { name: 'Update pair' }).click();
    await editor.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).waitFor();
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, prod.slice(0, 20).filter((id) => id !== moved));
    await expect.poll(() => focusedText(page)).toBe(prod[4]);
  });

  it('a completion deleted meanwhile elsewhere is gone from the list when Delete is confirmed', async () => {
    const ids = await apiIds(suite.service, 'order=desc');
    const gone = ids[0]!;
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('link', { name: gone, exact: true }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    expect((await suite.service.request(`/v1/chat/completions/${gone}`, { method: 'DELETE' })).status).toBe(200);
    await page.getByRole('dialog', { name: 'Delete this completion?' }).getByRole('button', { name: 'Delete' }).click();
    // Back on the list's own entry (the address had no hash).
    await page.waitForURL((url) => url.hash === '');
    // The pages loaded stay as they were, less the row: no reload from the first page.
    await expectRows(page, ids.slice(1, 20));
    expect(await page.locator('#announcer').textContent()).toBe(`${gone} was already deleted`);
  });

  it('signing in from a link to a conversation shows the conversation alone', async () => {
    const [id] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await page.getByRole('heading', { name: id, level: 1 }).waitFor();
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(0);
    expect(await page.getByRole('textbox', { name: 'API key' }).count()).toBe(0);
  });

  it('the skip link moves focus to the content and leaves the URL, and so the filters, as they were', async () => {
    const page = await suite.open('#/?model=gpt-4o-mini');
    await signIn(page);
    await page.locator('.skip-link').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('main');
    expect(new URL(page.url()).hash).toBe('#/?model=gpt-4o-mini');
    expect(await page.locator('input[name=model]').inputValue()).toBe('gpt-4o-mini');
  });

  it('Clear filters empties the search field it focuses, so the field never shows a search the list does not apply', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    const search = page.getByRole('searchbox', { name: 'Search' });
    await search.fill('Message 7');
    await expectRows(page, await apiIds(suite.service, 'order=desc&search=Message%207'));
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL((url) => url.hash === '#/');
    await expectRows(page, all.slice(0, 20));
    // Focus is in the search field again; it must read as the list is filtered: not at all.
    await expect.poll(() => page.evaluate('document.activeElement?.name')).toBe('search');
    expect(await search.inputValue()).toBe('');

    // Back, with the field still focused, brings the search back into it as into the list.
    await page.goBack();
    await expectRows(page, await apiIds(suite.service, 'order=desc&search=Message%207'));
    expect(await search.inputValue()).toBe('Message 7');
  });

  it('a link to a conversation cut inside an escape shows the 404 of that id, not the previous view', async () => {
    const page = await suite.open();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await signIn(page);
    await page.locator('ol.rows a.row-link').first().waitFor();
    await page.goto(`${suite.service.origin}/#/completions/chatcmpl-%E0%A4%A`);
    await page.getByRole('heading', { name: 'chatcmpl-%E0%A4%A', level: 1 }).waitFor();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe("No chat completion found with id 'chatcmpl-%E0%A4%A'.");
    expect(await page.locator('.list-view').isVisible()).toBe(false);
    expect(errors).toEqual([]);

    // An id of 3,000 characters: its 404 wraps within the window, not past it.
    const long = `chatcmpl-${'x'.repeat(3000)}`;
    await page.goto(`${suite.service.origin}/#/completions/${long}`);
    await expect.poll(() => page.getByRole('alert').textContent()).toBe(`No chat completion found with id '${long}'.`);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
  });

  it('a link to the conversation . or .. shows the 404 of that id, and sends the provider nothing (the browser would resolve the path to /v1/chat/)', async () => {
    for (const [segment, id] of [
      ['%2e%2e', '..'],
      ['%2E', '.'],
    ]) {
      const page = await suite.open();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await signIn(page);
      await page.locator('ol.rows a.row-link').first().waitFor();
      const received = suite.upstream.received.length;
      await page.goto(`${suite.service.origin}/#/completions/${segment}`);
      await page.getByRole('heading', { name: id, exact: true, level: 1 }).waitFor();
      await expect.poll(() => page.getByRole('alert').textContent()).toBe(`No chat completion found with id '${id}'.`);
      expect(await page.getByRole('button', { name: 'Try again' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
      expect(suite.upstream.received.slice(received)).toEqual([]);
      expect(errors).toEqual([]);
    }
  });

  it('a row\'s User preview is the last user message even after more than a page of tool calls and results', async () => {
    const calls = Array.from({ length: 15 }, (_, i) => [
      { role: 'assistant' as const, content: null, tool_calls: [{ id: `call_${i}`, type: 'function' as const, function: { name: 'search_docs', arguments: `{"page":${i}}` } }] },
      { role: 'tool' as const, tool_call_id: `call_${i}`, content: `result ${i}` },
    ]).flat();
    await seedCompletion(suite.service.client(), suite.upstream, {
      created: BASE - 100,
      model: 'gpt-4o-mini',
      metadata: { flow: 'agent' },
      messages: [{ role: 'system', content: 'You are an agent.' }, { role: 'user', content: 'Find the refund policy' }, ...calls],
    });
    const page = await suite.open('#/?metadata[flow]=agent');
    await signIn(page);
    await expect.poll(() => page.locator('ol.rows .preview-text').first().textContent()).toBe('Find the refund policy');
  });

  it('words typed in the search just before going back to a conversation do not pull the page back to the list', async () => {
    const [id] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('link', { name: id!, exact: true }).click();
    await page.getByRole('link', { name: '← Completions' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).waitFor();
    // The page's clock stopped while the words are typed and Back is pressed: on a busy machine the pause after
    // typing could run out before Back (applying the words, and Back then went to the list without them).
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1_000);
    await page.getByRole('searchbox', { name: 'Search' }).pressSequentially('Message');
    await page.goBack();
    await page.getByRole('heading', { name: id!, level: 1 }).waitFor();
    // Past the pause after which typed words are applied.
    await page.clock.runFor(1_000);
    // The page's own address (playwright's page.url() learns of a change a moment later).
    expect(await page.evaluate('location.hash')).toBe(`#/completions/${id}?order=desc`);
    expect(await page.getByRole('heading', { name: id!, level: 1 }).isVisible()).toBe(true);
  });

  it('at a phone\'s width the metadata editor keeps Key = Value on one line, as the list\'s metadata filter does', async () => {
    const [id] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open(`#/completions/${id}`);
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    const key = (await editor.getByRole('combobox', { name: 'Key', exact: true }).boundingBox())!;
    const equals = (await editor.locator('.equals').boundingBox())!;
    const value = (await editor.getByRole('combobox', { name: 'Value', exact: true }).boundingBox())!;
    expect(value.y).toBe(key.y);
    expect(equals.x).toBeGreaterThan(key.x + key.width - 1);
    expect(equals.x + equals.width).toBeLessThan(value.x + 1);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(390);
  });

  it('after signing in, focus is on the list\'s heading, not lost with the sign-in form', async () => {
    const page = await suite.open();
    await signIn(page);
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('list-title');
  });

  it('removing a metadata filter from its chip leaves focus in the Key field, not on the page\'s body', async () => {
    const page = await suite.open('#/?metadata[env]=prod');
    await signIn(page);
    await expectRows(page, (await apiIds(suite.service, 'metadata[env]=prod&order=desc')).slice(0, 20));
    await page.getByRole('button', { name: 'Remove filter env = prod' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.hash === '#/');
    await expect.poll(() => page.evaluate('document.activeElement?.name')).toBe('metadata-key');
  });

  it('a metadata pair typed but not added is applied by Enter, and emptied by Clear filters, which it shows', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    const key = page.getByRole('combobox', { name: 'Key', exact: true });
    const value = page.getByRole('combobox', { name: 'Value', exact: true });
    const clear = page.getByRole('button', { name: 'Clear filters' });
    expect(await clear.isVisible()).toBe(false);

    // Typed, not added: not a filter yet, but there is something to clear.
    await key.fill('env');
    await value.fill('prod');
    await expect.poll(() => clear.isVisible()).toBe(true);
    expect(new URL(page.url()).hash).toBe('');
    await clear.click();
    expect([await key.inputValue(), await value.inputValue()]).toEqual(['', '']);
    await expect.poll(() => clear.isVisible()).toBe(false);
    await expectRows(page, all.slice(0, 20));

    // With a filter applied, Clear filters empties the typed pair along with it.
    await page.getByRole('searchbox', { name: 'Search' }).fill('Message 7');
    await page.waitForURL((url) => url.hash === '#/?search=Message+7');
    await key.fill('env');
    await value.fill('dev');
    await clear.click();
    await page.waitForURL((url) => url.hash === '#/');
    expect([await key.inputValue(), await value.inputValue()]).toEqual(['', '']);

    // Enter in Value applies the pair, as Add does.
    await key.fill('env');
    await value.fill('dev');
    await value.press('Enter');
    await page.waitForURL((url) => url.hash === '#/?metadata%5Benv%5D=dev');
    await expectRows(page, (await apiIds(suite.service, 'metadata[env]=dev&order=desc')).slice(0, 20));
    expect(await page.locator('.filter-chip').allTextContents()).toEqual(['env = dev×']);
  });

  it('a created time in a link that no date field can show is left out, and said so, not applied unseen', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    for (const [hash, label, value] of [
      ['#/?created_after=9999999999999', 'Created after', '9999999999999'],
      ['#/?created_before=99999999999999999999&usage=1', 'Created before', '99999999999999999999'],
    ] as const) {
      const page = await suite.open(hash);
      await signIn(page);
      await expectRows(page, all.slice(0, 20));
      expect(await page.locator('.filters').getByRole('alert').textContent()).toBe(`"${label}" in this link (${value}, in Unix seconds) is not a date this page can show: it was left out.`);
      expect(await page.locator(`input[name=${label === 'Created after' ? 'created_after' : 'created_before'}]`).inputValue()).toBe('');
      expect(await page.locator('.summary').textContent()).toBe('Showing 20 completions; more below.');
    }
    // A date written by hand (the API's times are Unix seconds), or no date at all: the same.
    for (const value of ['2026-12-01', 'abc']) {
      const page = await suite.open(`#/?created_after=${value}`);
      await signIn(page);
      await expectRows(page, all.slice(0, 20));
      expect(await page.locator('.filters').getByRole('alert').textContent()).toBe(`"Created after" in this link (${value}) is not a time in Unix seconds: it was left out.`);
    }

    // A time before 1970 is a time: applied, and shown in its field.
    const page = await suite.open('#/?created_before=-5');
    await signIn(page);
    await expect.poll(() => page.locator('.summary').textContent()).toBe('No completions match these filters.');
    expect(await page.locator('input[name=created_before]').inputValue()).toBe('1969-12-31T23:59:55');
    expect(await page.locator('.filters').getByRole('alert').count()).toBe(0);
  });

  it('a key a header cannot carry is refused with a message about the key', async () => {
    const page = await suite.open();
    await page.getByRole('textbox', { name: 'API key' }).fill(`${DEFAULT_KEY}🔑`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('This API key holds characters no API key has (a control character, an invisible one, or one past U+00FF): check that it was copied whole and alone.');
  });
});
