import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedGroups } from './helpers/seed.ts';
import { apiIds, contrastRatio, expectRows, openGroup as openPageOfGroup, rowIds, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_762_000_000;

/** Each test has its own group (`metadata[group]=…`); `back` cards also carry a shade, one in three red. */
const GROUPS = { wipe: 23, pages: 25, back: 45, save: 1, usage: 3, leave: 1, phone: 20, keyless: 1, single: 2, kept: 25, slow: 2, moved: 1, lost: 1, elsewhere: 3, gone: 4, edge: 21 } as const;
type Group = keyof typeof GROUPS;

describe.skipIf(!browserAvailable)('web UI: the list as it changes under the user', () => {
  let ids = {} as Record<Group, string[]>;
  const suite = useUiSuite(async ({ service, upstream }) => {
    ids = await seedGroups(service.client(), upstream, {
      base: BASE,
      counts: GROUPS,
      extra: (group, i): Record<string, string> => {
        if (group === 'back') return { shade: i % 3 === 0 ? 'red' : 'blue' };
        if (group === 'kept') return { tone: i % 2 === 0 ? 'warm' : 'cool' };
        if (group === 'moved') return { zone: 'far' };
        return {};
      },
    });
  });

  const openGroup = (group: Group) => openPageOfGroup(suite, group, ids[group]);

  const bar = (page: Page) => page.getByRole('region', { name: 'Selected completions' });
  /** A tab on a group's list with another list before it in its history, so a step too far Back shows. */
  async function openWithListBefore(group: Group): Promise<Page> {
    const page = await suite.open('#/?metadata[group]=none-such');
    await signIn(page);
    await page.goto(`${suite.service.origin}/#/?metadata[group]=${group}`);
    await expectRows(page, ids[group]);
    return page;
  }

  /** Opens the metadata editor of the conversation in sight and types a pair into its fields, not yet added. */
  async function typePair(page: Page, key: string, value: string) {
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key' }).fill(key);
    await editor.getByRole('combobox', { name: 'Value' }).fill(value);
    return editor;
  }
  const summary = (page: Page) => page.locator('p.summary').textContent();
  const listRequests = (page: Page) => {
    const seen: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/chat/completions') seen.push(request.url());
    });
    return seen;
  };

  it('"Load more" still brings the rest after a bulk delete took every loaded card off', async () => {
    const page = await openGroup('wipe');
    await page.getByRole('checkbox', { name: 'Select all loaded' }).click();
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 20 completions?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.locator('.bulk-summary').textContent()).toBe('Deleted 20 completions.');
    await expectRows(page, []);
    // Not "No completions match these filters": three more are stored.
    expect(await summary(page)).toBe('None of the completions loaded so far are left here; more below.');
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, ids.wipe.slice(20));
    expect(await summary(page)).toBe('Showing all 3 completions.');
    expect(await page.getByRole('button', { name: 'Load more' }).isVisible()).toBe(false);
  });

  it('says beside "Load more" that a later page failed, the pages loaded and their summary kept; pressed again, it loads', async () => {
    const page = await openGroup('pages');
    await page.route(
      (url) => url.pathname === '/v1/chat/completions' && url.searchParams.has('after'),
      (route) => route.abort('connectionrefused'),
    );
    const more = page.getByRole('button', { name: 'Load more' });
    await more.click();
    const error = page.locator('.load-more-error');
    await expect.poll(() => error.textContent()).toMatch(/^More could not be loaded: The service did not answer/);
    expect(await error.isVisible()).toBe(true);
    // Right above the button, not at the list's top; the list's own alert and "Try again" stay out of it.
    expect(await error.evaluate((p) => p.nextElementSibling?.textContent)).toBe('Load more');
    expect(await page.locator('.list-view > [role=alert]').isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Try again' }).isVisible()).toBe(false);
    expect(await summary(page)).toBe('Showing 20 completions; more below.');
    expect(await rowIds(page)).toEqual(ids.pages.slice(0, 20));
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Load more');

    await page.unrouteAll();
    await more.click();
    await expectRows(page, ids.pages);
    expect(await error.isVisible()).toBe(false);
    expect(await summary(page)).toBe('Showing all 25 completions.');
  });

  it('Back from a chip\'s list shows the earlier list as it was left: its pages and scroll, with changes made meanwhile', async () => {
    const page = await openGroup('back');
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, ids.back.slice(0, 40));
    // Newest first: the 45th seeded (index 44) is first; red are those seeded at multiples of three.
    const red = ids.back.filter((_, at) => (44 - at) % 3 === 0);
    await page.locator(`li.row[data-id="${ids.back[30]}"]`).evaluate((row) => row.scrollIntoView());
    const scrolled = await page.evaluate<number>('window.scrollY');
    expect(scrolled).toBeGreaterThan(1000);

    const chipRow = ids.back.findIndex((id, at) => at >= 30 && red.includes(id));
    await page.locator(`li.row[data-id="${ids.back[chipRow]}"]`).getByRole('button', { name: 'Filter on shade: red' }).click();
    await expectRows(page, red);
    // One of them deleted in this list: the earlier list, kept, must not show it again.
    const gone = red[1]!;
    await page.getByRole('checkbox', { name: `Select ${gone}` }).click();
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 1 completion?' }).getByRole('button', { name: 'Delete' }).click();
    await expectRows(page, red.filter((id) => id !== gone));

    const requests = listRequests(page);
    await page.goBack();
    await expectRows(page, ids.back.slice(0, 40).filter((id) => id !== gone));
    expect(await summary(page)).toBe('Showing 39 completions; more below.');
    await expect.poll(() => page.evaluate<number>('window.scrollY')).toBe(scrolled);
    // Shown as kept, not loaded again.
    expect(requests).toEqual([]);
    // And its cursor kept: the next page follows the 40th.
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, ids.back.filter((id) => id !== gone));

    await page.goForward();
    await expectRows(page, red.filter((id) => id !== gone));
    expect(requests.filter((url) => !url.includes('after='))).toEqual([]);
    expect(await apiIds(suite.service, 'metadata[group]=back&order=desc')).toEqual(ids.back.filter((id) => id !== gone));
  });

  it('keeps the metadata editor open, "Cancel" and Escape refused, until a save on its way lands', async () => {
    const [id] = ids.save as [string];
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let posted = false;
    await page.route(`**/v1/chat/completions/${id}`, async (route) => {
      if (route.request().method() === 'POST') {
        posted = true;
        await held;
      }
      await route.continue();
    });
    const editor = await typePair(page, 'reviewed', 'yes');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => posted).toBe(true);

    const cancel = editor.getByRole('button', { name: 'Cancel' });
    expect(await cancel.getAttribute('aria-disabled')).toBe('true');
    await cancel.click({ force: true });
    await page.keyboard.press('Escape');
    expect(await editor.isVisible()).toBe(true);
    expect(await page.getByRole('dialog').count()).toBe(0);

    release();
    await expect.poll(() => editor.count()).toBe(0);
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Metadata saved');
    expect(await page.locator('aside.details').getByRole('listitem').allTextContents()).toEqual(['group: save', 'reviewed: yes']);
    const stored = await suite.service.request(`/v1/chat/completions/${id}`);
    expect(((await stored.json()) as { metadata: unknown }).metadata).toEqual({ group: 'save', reviewed: 'yes' });
  });

  it('draws the usage panel in sight again after a bulk delete, with the figures left', async () => {
    const page = await suite.open('#/?metadata[group]=usage&usage=1');
    await signIn(page);
    await expectRows(page, ids.usage);
    const totals = page.getByRole('region', { name: 'Usage' }).locator('.usage-totals');
    await expect.poll(() => totals.textContent()).toMatch(/^3 completions · /);
    await page.getByRole('checkbox', { name: `Select ${ids.usage[0]}` }).click();
    await page.getByRole('checkbox', { name: `Select ${ids.usage[2]}` }).click();
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 2 completions?' }).getByRole('button', { name: 'Delete' }).click();
    await expectRows(page, [ids.usage[1]!]);
    await expect.poll(() => totals.textContent()).toMatch(/^1 completion · /);
  });

  it('asks before "Sign out" throws away metadata typed and not saved', async () => {
    const [id] = ids.leave as [string];
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const key = page.getByRole('form', { name: 'Edit metadata' }).getByRole('combobox', { name: 'Key' });
    await key.fill('typed');
    const asked: string[] = [];
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(asked).toEqual(['Sign out? The metadata changes you made have not been saved.']);
    expect(await key.inputValue()).toBe('typed');
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('textbox', { name: 'API key' }).waitFor();
  });

  it('draws fields, secondary buttons and chart series 3:1 or more against the surface, light and dark', async () => {
    const page = await suite.open();
    await signIn(page);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const colours = await page.evaluate<{ surface: string; field: string; button: string; series: string[] }>(`(() => {
        const probe = (style) => {
          const div = document.createElement('div');
          Object.assign(div.style, style);
          document.body.append(div);
          const colour = getComputedStyle(div).color;
          div.remove();
          return colour;
        };
        return {
          surface: probe({ color: 'var(--surface)' }),
          field: getComputedStyle(document.querySelector('input[name=search]')).borderTopColor,
          button: getComputedStyle(document.querySelector('button.secondary')).borderTopColor,
          series: Array.from({ length: 8 }, (_, i) => probe({ color: 'var(--series-' + i + ')' })),
        };
      })()`);
      for (const [what, colour] of [['field', colours.field], ['button', colours.button], ...colours.series.map((c, i) => [`series-${i}`, c])]) {
        expect(contrastRatio(colour!, colours.surface), `${scheme} ${what} ${colour}`).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it('at phone width, the bar with its tag form open scrolls with the page, and the confirm dialog keeps a margin', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${suite.service.origin}/#/?metadata[group]=phone`);
    await signIn(page);
    await expectRows(page, ids.phone);
    await page.getByRole('checkbox', { name: `Select ${ids.phone[0]}` }).click();
    const barBox = () => page.evaluate<{ top: number; bottom: number }>('(() => { const r = document.querySelector(".bulk").getBoundingClientRect(); return { top: r.top, bottom: r.bottom }; })()');

    await bar(page).getByRole('button', { name: 'Add tag' }).click();
    await page.locator(`li.row[data-id="${ids.phone[15]}"]`).evaluate((row) => row.scrollIntoView());
    // Gone up with the page, not covering the cards scrolled to.
    expect((await barBox()).bottom).toBeLessThanOrEqual(0);

    await bar(page).getByRole('button', { name: 'Cancel' }).click();
    await page.locator(`li.row[data-id="${ids.phone[15]}"]`).evaluate((row) => row.scrollIntoView());
    // Closed, the bar is sticky again at the window's top.
    expect((await barBox()).top).toBe(0);

    await bar(page).getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 1 completion?' });
    const box = (await dialog.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(16);
    expect(box.x + box.width).toBeLessThanOrEqual(390 - 16);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it('says that a model is matched by its whole name when none matches, "Clear filters" at the form\'s edge', async () => {
    const page = await suite.open('#/?model=gpt-4o-min');
    await signIn(page);
    await expect.poll(() => summary(page)).toBe('No completions match these filters. The model is matched by its whole name: "gpt-4o" does not find "gpt-4o-mini".');
    const left = (selector: string) => page.locator(selector).evaluate((el) => el.getBoundingClientRect().left);
    expect(await left('.active-filters .link-button')).toBe(await left('.active-filters'));

    // Beside a metadata filter that matches nothing, the model is not why: no word about it.
    await page.goto(`${suite.service.origin}/#/?model=gpt-4o-mini&metadata%5Bnone%5D=here`);
    await expect.poll(() => summary(page)).toBe('No completions match these filters.');
  });

  it('shows a key added without a value as a filter on "", and says why nothing matches it', async () => {
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('combobox', { name: 'Key' }).fill('session');
    // Enter in the key goes on to the value, as in the metadata editor; Enter there, the value left empty, adds it.
    await page.getByRole('combobox', { name: 'Key' }).press('Enter');
    expect(await page.evaluate('document.activeElement.name')).toBe('metadata-value');
    expect(page.url()).not.toContain('metadata');
    await page.getByRole('combobox', { name: 'Value' }).press('Enter');
    await expect.poll(() => page.url()).toContain('metadata%5Bsession%5D=');
    const chips = page.getByRole('list', { name: 'Metadata filters' });
    // Drawn by the page's hashchange, which runs after the address changed: polled, not read once.
    await expect.poll(() => chips.getByRole('listitem').allTextContents()).toEqual(['session = ""×']);
    expect(await chips.getByRole('button').getAttribute('aria-label')).toBe('Remove filter session = empty value');
    await expect
      .poll(() => summary(page))
      .toBe('No completions match these filters. The filter session = "" matches only an empty value, not every completion that has the key: metadata is matched by exact values.');
  });

  it('offers a completion id typed into Search as a link to it, and says that search has no operators', async () => {
    const id = ids.single[0]!;
    const page = await suite.open(`#/?search=${encodeURIComponent(` ${id} `)}`);
    await signIn(page);
    const link = page.locator('p.summary a');
    await expect.poll(() => link.textContent()).toBe(`Open ${id}`);
    await link.click();
    await expect.poll(() => page.url()).toBe(`${suite.service.origin}/#/completions/${id}`);

    await page.goto(`${suite.service.origin}/#/?search=${encodeURIComponent('"no such" OR -zzz')}`);
    await expect
      .poll(() => summary(page))
      .toMatch(/ Search has no operators: quotes, a leading -, OR, AND, NOT and \* are read as plain words, and every word must appear\.$/);
    expect(await link.count()).toBe(0);
  });

  it('puts the focus on the Key field when Save finds a value typed without a key', async () => {
    const page = await suite.open(`#/completions/${ids.keyless[0]}`);
    await signIn(page);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Value' }).fill('orphan');
    await editor.getByRole('button', { name: 'Save' }).click();
    expect(await editor.getByRole('alert').textContent()).toBe('A key cannot be empty.');
    expect(await page.evaluate('document.activeElement?.name')).toBe('key');
  });

  it('after a delete in a conversation, goes back to the list\'s own history entry and says in sight what was deleted', async () => {
    const [gone, kept] = ids.single as [string, string];
    const page = await openWithListBefore('single');
    await page.getByRole('link', { name: gone }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this completion?' }).getByRole('button', { name: 'Delete' }).click();
    // The row goes from the (hidden) list at once; the list is in sight once the history step lands.
    await page.getByRole('heading', { name: 'Completions', level: 1 }).waitFor();
    await expectRows(page, [kept]);
    const notice = page.locator('p.notice');
    await expect.poll(() => notice.isVisible()).toBe(true);
    expect(await notice.textContent()).toBe(`Deleted ${gone}.`);
    // One entry of the list, not two: Back leaves it for the list before.
    await page.goBack();
    await page.waitForURL((url) => url.hash.includes('none-such'));
    // Said once: a list shown again later has no old notice.
    await page.goForward();
    await expectRows(page, [kept]);
    expect(await notice.isVisible()).toBe(false);
  });

  it('takes out of the list a card whose conversation answers 404, deleted elsewhere since the list was drawn', async () => {
    const [newest, gone, oldest] = ids.elsewhere as [string, string, string];
    const page = await openGroup('elsewhere');
    expect(await summary(page)).toBe('Showing all 3 completions.');
    // Another tab, a script or a teammate deletes it while this list is in sight.
    expect((await suite.service.request(`/v1/chat/completions/${gone}`, { method: 'DELETE' })).status).toBe(200);
    await page.getByRole('link', { name: gone, exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe(`No chat completion found with id '${gone}'.`);
    await page.getByRole('link', { name: '← Completions' }).click();
    // It came back with the card, which could only ever open that 404 again, and counted it.
    await expectRows(page, [newest, oldest]);
    expect(await summary(page)).toBe('Showing all 2 completions.');
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent)).toBe(oldest);
  });

  it('"Next" from the 404 of the last card loaded, deleted elsewhere, still loads the next page and goes on', async () => {
    const page = await openGroup('edge');
    const [lastLoaded, firstOfNextPage] = [ids.edge[19]!, ids.edge[20]!];
    expect((await suite.service.request(`/v1/chat/completions/${lastLoaded}`, { method: 'DELETE' })).status).toBe(200);
    await page.getByRole('link', { name: lastLoaded, exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe(`No chat completion found with id '${lastLoaded}'.`);
    // Its card has left the list; its place in it has not.
    await page.getByRole('navigation', { name: 'Completions in the list (top)' }).getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByRole('heading', { name: firstOfNextPage, level: 1 }).waitFor();
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, ids.edge.filter((id) => id !== lastLoaded));
  });

  it('takes out of the list a card whose metadata save or tag answers that it was deleted meanwhile', async () => {
    const [tagged, saved, tagGone, oldest] = ids.gone as [string, string, string, string];
    const page = await openGroup('gone');
    const deleteElsewhere = async (id: string) => expect((await suite.service.request(`/v1/chat/completions/${id}`, { method: 'DELETE' })).status).toBe(200);
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    // A pair saved on the newest: "Tag" offers it on the next conversations.
    await page.getByRole('link', { name: tagged, exact: true }).click();
    await typePair(page, 'reviewed', 'yes');
    await editor.getByRole('button', { name: 'Save' }).click();
    await editor.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, ids.gone);

    // Opened, then deleted elsewhere before its metadata is saved.
    await page.getByRole('link', { name: saved, exact: true }).click();
    await typePair(page, 'reviewed', 'no');
    await deleteElsewhere(saved);
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => editor.getByRole('alert').textContent()).toBe(`No chat completion found with id '${saved}'.`);
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, [tagged, tagGone, oldest]);

    // Opened, then deleted elsewhere before it is tagged.
    await page.getByRole('link', { name: tagGone, exact: true }).click();
    await page.locator('article.message').first().waitFor();
    await deleteElsewhere(tagGone);
    await page.getByRole('button', { name: 'Tag reviewed: yes' }).click();
    await expect.poll(() => page.locator('p.tag-status').textContent()).toContain('Not tagged: this completion was deleted meanwhile.');
    await page.getByRole('link', { name: '← Completions' }).click();
    await expectRows(page, [tagged, oldest]);
    expect(await summary(page)).toBe('Showing all 2 completions.');
  });

  it('tests changes against a kept list\'s own filters: a card changed in a chip\'s list stays in the list before it', async () => {
    const page = await openGroup('kept');
    // Newest first: the 25th seeded (index 24, warm) is first.
    const x = ids.kept[0]!;
    await page.locator(`li.row[data-id="${x}"]`).getByRole('button', { name: 'Filter on tone: warm' }).click();
    await expectRows(page, ids.kept.filter((_, at) => at % 2 === 0));
    await page.getByRole('link', { name: x }).click();
    const editor = await typePair(page, 'tone', 'cool');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => editor.count()).toBe(0);
    await page.goBack();
    // Out of the warm list, which it no longer matches...
    await expectRows(page, ids.kept.filter((id, at) => at % 2 === 0 && id !== x));
    await page.goBack();
    // ...and still in the unfiltered one, with its new tone.
    await expectRows(page, ids.kept.slice(0, 20));
    expect(await page.locator(`li.row[data-id="${x}"] .chip`).allTextContents()).toEqual(['group: kept', 'tone: cool']);
  });

  it('a list left before its first page came, then gone back to, is whole: "Load more" works, nothing busy', async () => {
    const page = await openGroup('kept');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route((url) => url.pathname === '/v1/chat/completions' && url.searchParams.get('metadata[tone]') === 'cool', async (route) => {
      await held;
      await route.continue().catch(() => {});
    });
    await page.locator(`li.row[data-id="${ids.kept[1]}"]`).getByRole('button', { name: 'Filter on tone: cool' }).click();
    await page.waitForURL((url) => url.hash.includes('tone'));
    await page.goBack();
    await expectRows(page, ids.kept.slice(0, 20));
    expect(await page.locator('.list-view[aria-busy=true]').count()).toBe(0);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, ids.kept);
    release();
  });

  it('Forward to a list comes back where it was scrolled, not where the list before it was', async () => {
    const page = await openGroup('kept');
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, ids.kept);
    await page.locator(`li.row[data-id="${ids.kept[22]}"]`).evaluate((row) => row.scrollIntoView());
    const first = await page.evaluate<number>('window.scrollY');
    await page.locator(`li.row[data-id="${ids.kept[22]}"]`).getByRole('button', { name: 'Filter on tone: warm' }).click();
    // As the API has them now (a test before this one changed a tone).
    const warm = await apiIds(suite.service, 'metadata[group]=kept&metadata[tone]=warm&order=desc');
    await expectRows(page, warm);
    await page.evaluate('window.scrollTo(0, 600)');
    await page.goBack();
    await expectRows(page, ids.kept);
    await expect.poll(() => page.evaluate<number>('window.scrollY')).toBe(first);
    await page.goForward();
    await expectRows(page, warm);
    await expect.poll(() => page.evaluate<number>('window.scrollY')).toBe(600);
  });

  it('stays on the list when Back was pressed while a conversation\'s delete was on its way', async () => {
    const [gone, kept] = ids.slow as [string, string];
    const page = await openWithListBefore('slow');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let answered = false;
    await page.route(`**/v1/chat/completions/${gone}`, async (route) => {
      if (route.request().method() !== 'DELETE') return route.continue();
      await held;
      await route.continue();
      answered = true;
    });
    await page.getByRole('link', { name: gone }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this completion?' }).getByRole('button', { name: 'Delete' }).click();
    await page.goBack();
    await page.getByRole('heading', { name: 'Completions', level: 1 }).waitFor();
    release();
    await expect.poll(() => answered).toBe(true);
    await expectRows(page, [kept]);
    // Still on the list it went back to, not sent one step further back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(new URL(page.url()).hash).toBe('#/?metadata[group]=slow');
    expect(await page.locator('p.notice').isVisible()).toBe(false);
  });

  it('Back from a conversation opened far down the list comes back where the list was scrolled', async () => {
    const page = await openGroup('kept');
    await page.getByRole('button', { name: 'Load more' }).click();
    await expectRows(page, ids.kept);
    const row = page.locator(`li.row[data-id="${ids.kept[20]}"]`);
    await row.evaluate((el) => el.scrollIntoView());
    const scrolled = await page.evaluate<number>('window.scrollY');
    expect(scrolled).toBeGreaterThan(1000);
    await row.getByRole('link', { name: ids.kept[20] }).click();
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    await page.goBack();
    await expect.poll(() => page.evaluate<number>('window.scrollY')).toBe(scrolled);
    expect(await page.evaluate('document.activeElement?.textContent')).toBe(ids.kept[20]);
  });

  it('after a leave called off, a delete goes to the list it was opened from, not the one it declined', async () => {
    const [id] = ids.moved as [string];
    const page = await openWithListBefore('moved');
    // (A row's address names its list.)
    const opened = await page.getByRole('link', { name: id }).getAttribute('href');
    await page.getByRole('link', { name: id }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key' }).fill('draft');
    page.once('dialog', (dialog) => void dialog.dismiss());
    // The conversation's own chip leads to the list of that pair: declined, the conversation stays.
    await page.locator('aside.details a.chip', { hasText: 'zone' }).click();
    await expect.poll(() => new URL(page.url()).hash).toBe(opened);
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this completion?' }).getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL((url) => !url.hash.startsWith('#/completions/'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(new URL(page.url()).hash).toBe('#/?metadata[group]=moved');
    await expectRows(page, []);
  });

  it('says above the list when a metadata save left on its way (Back pressed) was refused', async () => {
    const [id] = ids.lost as [string];
    const page = await suite.open('#/?metadata[group]=lost');
    await signIn(page);
    await expectRows(page, [id]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let posted = false;
    await page.route(`**/v1/chat/completions/${id}`, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posted = true;
      await held;
      await route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: { message: 'Refused for the test.', type: 'invalid_request_error', param: 'metadata', code: null } }) });
    });
    await page.getByRole('link', { name: id }).click();
    const editor = await typePair(page, 'reviewed', 'yes');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => posted).toBe(true);
    await page.goBack();
    await page.getByRole('heading', { name: 'Completions', level: 1 }).waitFor();
    release();
    const notice = page.locator('p.notice');
    await expect.poll(() => notice.isVisible()).toBe(true);
    expect(await notice.textContent()).toBe(`The metadata of ${id} was not saved: Refused for the test.`);
  });
});
