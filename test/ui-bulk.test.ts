import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedGroups } from './helpers/seed.ts';
import { apiIds, expectRows, loadAll, openGroup as openPageOfGroup, rowIds, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_761_000_000;

/** Each test curates its own group of completions (`metadata[group]=…`), so none sees another's changes. */
const GROUPS = { tag: 23, full: 3, remove: 3, delete: 4, fail: 5, keys: 3, busy: 3, stop: 8, pick: 4, export: 4, race: 60 } as const;
type Group = keyof typeof GROUPS;

/** Extra metadata for the i-th completion of a group, beside `group`. */
function extraMetadata(group: Group, i: number): Record<string, string> {
  if (group === 'tag' && i === 1) return { label: 'old' };
  // 16 pairs with `group`: the most the API takes.
  if ((group === 'full' && i === 1) || (group === 'export' && i === 2)) return Object.fromEntries(Array.from({ length: 15 }, (_, k) => [`k${k}`, 'v']));
  if (group === 'remove') return i === 2 ? { keep: 'yes' } : { stale: 'x', keep: 'yes' };
  return {};
}

describe.skipIf(!browserAvailable)('web UI: curating many completions at once', () => {
  let ids = {} as Record<Group, string[]>;
  const suite = useUiSuite(async ({ service, upstream }) => {
    ids = await seedGroups(service.client(), upstream, { base: BASE, counts: GROUPS, extra: extraMetadata });
  });

  async function metadataOf(id: string): Promise<Record<string, string> | number> {
    const res = await suite.service.request(`/v1/chat/completions/${id}`);
    return res.status === 200 ? ((await res.json()) as { metadata: Record<string, string> }).metadata : res.status;
  }

  const openGroup = (group: Group) => openPageOfGroup(suite, group, ids[group]);

  const bar = (page: Page) => page.getByRole('region', { name: 'Selected completions' });
  const summary = (page: Page) => page.locator('.bulk-summary');
  const announced = (page: Page) => page.locator('#announcer').textContent();
  /** The focused control's name: its aria-label, its label's text, or its own text. */
  const focused = (page: Page) =>
    page.evaluate('(() => { const el = document.activeElement; return el?.getAttribute("aria-label") ?? el?.labels?.[0]?.textContent ?? el?.textContent ?? null; })()');
  /** Presses `key` and expects the focus on the control named `name` after it. */
  async function pressTo(page: Page, key: string, name: string) {
    await page.keyboard.press(key);
    expect(await focused(page)).toBe(name);
  }
  const chipsOf = (page: Page, id: string) => page.locator(`li.row[data-id="${id}"] ul.chips`).textContent();

  async function select(page: Page, ...selected: string[]) {
    for (const id of selected) await page.getByRole('checkbox', { name: `Select ${id}` }).check();
  }

  async function addTag(page: Page, key: string, value: string) {
    await bar(page).getByRole('button', { name: 'Add tag' }).click();
    const form = page.getByRole('form', { name: 'Add tag' });
    await form.getByRole('combobox', { name: 'Tag key' }).fill(key);
    await form.getByRole('combobox', { name: 'Tag value' }).fill(value);
    await form.getByRole('button', { name: 'Apply' }).click();
  }

  it('adds a tag to each selected completion, merged into a map read just before, cards redrawn in place', async () => {
    const group = ids.tag;
    const page = await openGroup('tag');
    await loadAll(page);
    await expectRows(page, group);
    expect(await bar(page).isVisible()).toBe(false);

    const [first, , third, fourth] = group as [string, string, string, string];
    // The second oldest, seeded with label=old.
    const labelled = group[GROUPS.tag - 2]!;
    const last = group.at(-1)!;
    await select(page, first, fourth, labelled, last);
    await expect.poll(() => bar(page).locator('.bulk-count').textContent()).toBe('4 completions selected');
    // Changed elsewhere after the list loaded: the tag must not undo it.
    await suite.service.request(`/v1/chat/completions/${fourth}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { group: 'tag', reviewer: 'ann' } }),
    });
    const topOfLast = () => page.locator(`li.row[data-id="${last}"]`).evaluate((row) => Math.round(row.getBoundingClientRect().top));
    const seenAt = await topOfLast();

    await addTag(page, 'label', 'gold');
    await expect.poll(() => summary(page).textContent()).toBe('Added label=gold to 4 completions.');
    await expect.poll(() => announced(page)).toBe('Added label=gold to 4 completions.');
    expect(await metadataOf(first)).toEqual({ group: 'tag', label: 'gold' });
    // The one that had label=old: replaced.
    expect(await metadataOf(labelled)).toEqual({ group: 'tag', label: 'gold' });
    expect(await metadataOf(fourth)).toEqual({ group: 'tag', reviewer: 'ann', label: 'gold' });
    expect(await metadataOf(last)).toEqual({ group: 'tag', label: 'gold' });
    expect(await metadataOf(third)).toEqual({ group: 'tag' });

    // In place: every page still loaded, in order, the card in view where it was, the chips new.
    expect(await rowIds(page)).toEqual(group);
    expect(await topOfLast()).toBe(seenAt);
    expect(await chipsOf(page, fourth)).toBe('group: tagreviewer: annlabel: gold');
    expect(await chipsOf(page, third)).toBe('group: tag');
    // Nothing failed: the selection is done with, the focus on the summary's own control.
    expect(await bar(page).isVisible()).toBe(false);
    expect(await page.getByRole('checkbox', { name: 'Select all loaded' }).isChecked()).toBe(false);
    expect(await focused(page)).toBe('Dismiss');
  });

  it('after "Add tag", shows just the tagged completions, whose Export then downloads exactly them', async () => {
    const page = await openGroup('pick');
    const picked = [ids.pick[1]!, ids.pick[3]!];
    await select(page, ...picked);
    await addTag(page, 'set', 'picked');
    await expect.poll(() => summary(page).textContent()).toBe('Added set=picked to 2 completions.');
    // No failures, no room for them: the links stand right under the summary.
    const summaryBox = (await summary(page).boundingBox())!;
    const linksBox = (await page.locator('.bulk-result-actions').boundingBox())!;
    expect(linksBox.y - (summaryBox.y + summaryBox.height)).toBe(0);
    // Alt-clicked, the browser downloads the link instead of following it: this list and its summary stay as they were.
    const listed = await page.evaluate('location.hash');
    // Its download is waited for here, so the Export's wait below cannot catch it instead.
    const [linkDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Show only set = picked' }).click({ modifiers: ['Alt'] }),
    ]);
    expect(linkDownload.suggestedFilename()).not.toMatch(/\.jsonl$/);
    expect(await summary(page).isVisible()).toBe(true);
    expect(await page.evaluate('location.hash')).toBe(listed);
    // Followed from the keyboard: the link goes with its summary, and its focus to the filter it added.
    await page.getByRole('link', { name: 'Show only set = picked' }).focus();
    await page.keyboard.press('Enter');
    await expectRows(page, picked);
    await expect.poll(() => focused(page)).toBe('Remove filter set = picked');
    expect(new URLSearchParams((await page.evaluate('location.hash') as string).slice(2))).toEqual(new URLSearchParams('metadata[group]=pick&metadata[set]=picked'));
    // The summary it came from is done with; the selection went with the reload.
    expect(await summary(page).isVisible()).toBe(false);
    expect(await bar(page).isVisible()).toBe(false);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const exported = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect(exported).toEqual(picked);
  });

  it('"Export selected" downloads exactly the selected, in the list\'s order and format, writing nothing to them', async () => {
    const page = await openGroup('export');
    // [2] holds 16 pairs already: a tag could not go on it, and nothing needs to.
    const picked = [ids.export[0]!, ids.export[2]!, ids.export[3]!];
    const before = await Promise.all(ids.export.map(metadataOf));
    await select(page, ...picked);
    // The whole view's Export, with cards checked, says the file is not just them.
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await expect.poll(() => page.locator('.export-status').textContent()).toBe('Exported 4 lines (completions). That is the whole view, not only the 3 selected: "Export selected" downloads those.');

    const [download] = await Promise.all([page.waitForEvent('download'), bar(page).getByRole('button', { name: 'Export selected' }).click()]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; metadata: Record<string, string> });
    expect(lines.map((line) => line.id)).toEqual(picked);
    expect(lines.map((line) => line.metadata)).toEqual([before[0], before[2], before[3]]);
    await expect.poll(() => page.locator('.export-status').textContent()).toBe('Exported 3 lines (completions). From the 3 selected completions.');
    expect(await Promise.all(ids.export.map(metadataOf))).toEqual(before);
    // The selection stays, for what comes next (a tag, a delete, another format).
    expect(await bar(page).locator('.bulk-count').textContent()).toBe('3 completions selected');
    expect(await focused(page)).toBe('Export selected');

    await page.getByRole('combobox', { name: 'Export format' }).selectOption('eval');
    const [evalDownload] = await Promise.all([page.waitForEvent('download'), bar(page).getByRole('button', { name: 'Export selected' }).click()]);
    expect(evalDownload.suggestedFilename()).toMatch(/^stored-completions-eval-\d{4}-\d\d-\d\d-\d{6}\.jsonl$/);
    const evalLines = readFileSync((await evalDownload.path())!, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { item: { id: string } });
    expect(evalLines.map((line) => line.item.id)).toEqual(picked);
    // The UI's eval file carries each reply as the sample an eval run grades (the API's line is the item alone unless asked).
    expect(evalLines.map((line) => Object.keys(line))).toEqual(picked.map(() => ['item', 'sample']));

    // One deleted elsewhere since it was selected: the file would pass for the whole set, so none is saved, and it is named.
    expect((await suite.service.request(`/v1/chat/completions/${ids.export[2]}`, { method: 'DELETE' })).status).toBe(200);
    let downloads = 0;
    page.on('download', () => downloads++);
    await bar(page).getByRole('button', { name: 'Export selected' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Export failed' }).textContent()).toBe(`Export failed: No chat completion found with id '${ids.export[2]}'.`);
    expect(downloads).toBe(0);
  });

  it('two operators tagging the same 60 completions at once keep both their tags (no whole map written back)', async () => {
    const group = ids.race;
    const [alice, ann] = [await openGroup('race'), await openGroup('race')];
    for (const page of [alice, ann]) {
      await loadAll(page);
      await expectRows(page, group);
      await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
      await expect.poll(() => bar(page).locator('.bulk-count').textContent()).toBe('60 completions selected');
    }
    await Promise.all([addTag(alice, 'reviewed', 'alice'), addTag(ann, 'split', 'eval')]);
    await expect.poll(() => summary(alice).textContent()).toBe('Added reviewed=alice to 60 completions.');
    await expect.poll(() => summary(ann).textContent()).toBe('Added split=eval to 60 completions.');
    const kept = await Promise.all(group.map((id) => metadataOf(id)));
    expect(kept).toEqual(group.map(() => ({ group: 'race', reviewed: 'alice', split: 'eval' })));
  });

  it('reports a completion already at 16 pairs and keeps it selected; a key it has can still change', async () => {
    const [newest, full, oldest] = ids.full as [string, string, string];
    const page = await openGroup('full');
    await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
    await expect.poll(() => bar(page).locator('.bulk-count').textContent()).toBe('3 completions selected');

    await addTag(page, 'new', '1');
    await expect.poll(() => summary(page).textContent()).toBe('Added new=1 to 2 of 3 completions. 1 failed:');
    const reason = 'It has 16 metadata pairs already, the most allowed: remove one first.';
    expect(await page.locator('.bulk-failures li').allTextContents()).toEqual([`${full}: ${reason}`]);
    await expect.poll(() => announced(page)).toBe(`Added new=1 to 2 of 3 completions. 1 failed: ${full}: ${reason}`);
    expect(await metadataOf(newest)).toEqual({ group: 'full', new: '1' });
    expect(await metadataOf(oldest)).toEqual({ group: 'full', new: '1' });
    expect(Object.keys((await metadataOf(full)) as object)).toHaveLength(16);
    expect((await metadataOf(full)) as object).not.toHaveProperty('new');
    // Still selected, alone, with the focus on the button that tries again.
    expect(await bar(page).locator('.bulk-count').textContent()).toBe('1 completion selected');
    expect(await page.getByRole('checkbox', { name: `Select ${full}` }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: `Select ${newest}` }).isChecked()).toBe(false);
    expect(await focused(page)).toBe('Add tag');

    await addTag(page, 'k0', 'changed');
    await expect.poll(() => summary(page).textContent()).toBe('Added k0=changed to 1 completion.');
    expect(((await metadataOf(full)) as Record<string, string>).k0).toBe('changed');
  });

  it('refuses a tag past the API limits before sending anything', async () => {
    const page = await openGroup('full');
    await select(page, ids.full[0]!);
    await addTag(page, 'k'.repeat(65), 'v');
    const form = page.getByRole('form', { name: 'Add tag' });
    await expect.poll(() => form.getByRole('alert').textContent()).toBe(`The key "${'k'.repeat(20)}…" is longer than 64 characters.`);
    await form.getByRole('combobox', { name: 'Tag key' }).fill('big');
    await form.getByRole('combobox', { name: 'Tag value' }).fill('v'.repeat(513));
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toBe('The value of "big" is longer than 512 characters (513).');
    expect(await metadataOf(ids.full[0]!)).not.toHaveProperty('big');
  });

  it('removes a tag from each selected completion, the other pairs kept', async () => {
    const page = await openGroup('remove');
    await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
    await bar(page).getByRole('button', { name: 'Remove tag' }).click();
    const form = page.getByRole('form', { name: 'Remove tag' });
    expect(await form.getByRole('combobox', { name: 'Tag value' }).count()).toBe(0);
    await form.getByRole('combobox', { name: 'Tag key' }).fill('stale');
    await form.getByRole('button', { name: 'Apply' }).click();
    // The third had no `stale`: nothing was removed from it, and the summary does not count it.
    await expect.poll(() => summary(page).textContent()).toBe('Removed stale from 2 completions; 1 did not have it.');
    for (const id of ids.remove) expect(await metadataOf(id)).toEqual({ group: 'remove', keep: 'yes' });
    for (const id of ids.remove) expect(await chipsOf(page, id)).toBe('group: removekeep: yes');

    // Removing the key the list is filtered on takes the cards out of it.
    await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
    await bar(page).getByRole('button', { name: 'Remove tag' }).click();
    await form.getByRole('combobox', { name: 'Tag key' }).fill('group');
    await form.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => summary(page).textContent()).toBe('Removed group from 3 completions.');
    await expectRows(page, []);
    for (const id of ids.remove) expect(await metadataOf(id)).toEqual({ keep: 'yes' });
  });

  it('deletes the selected completions after a confirmation naming the count', async () => {
    const [a, b, c, d] = ids.delete as [string, string, string, string];
    const page = await openGroup('delete');
    await select(page, b, d);
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 2 completions?' });
    expect(await dialog.locator('p').textContent()).toBe('The 2 selected completions and their input messages will be deleted for good. This cannot be undone.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await dialog.count()).toBe(0);
    expect(await focused(page)).toBe('Delete');
    expect(await metadataOf(b)).toEqual({ group: 'delete' });

    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => summary(page).textContent()).toBe('Deleted 2 completions.');
    await expectRows(page, [a, c]);
    expect(await metadataOf(b)).toBe(404);
    expect(await metadataOf(d)).toBe(404);
    expect(await apiIds(suite.service, 'metadata[group]=delete&order=desc')).toEqual([a, c]);
    expect(await page.locator('.summary').textContent()).toBe('Showing all 2 completions.');
  });

  it('reports failures while the rest succeed: one deleted meanwhile, and a refused request whose completions stay selected', async () => {
    const group = ids.fail as [string, string, string, string, string];
    const page = await openGroup('fail');
    await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
    // Deleted through the API after it was selected.
    expect((await suite.service.request(`/v1/chat/completions/${group[2]}`, { method: 'DELETE' })).status).toBe(200);
    // And OpenAI's server error for the change (one request names them all), held until the progress has been read.
    const refusal = 'The server had an error while processing your request.';
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/stored-completions/metadata', async (route) => {
      await held;
      return route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { message: refusal, type: 'server_error', param: null, code: null } }) });
    });

    await addTag(page, 'split', 'train');
    await expect.poll(() => bar(page).locator('.bulk-progress > span').textContent()).toBe('Adding split=train: 0 of 5 done');
    expect(await bar(page).getByRole('progressbar', { name: 'Adding split=train: 0 of 5 done' }).getAttribute('value')).toBe('0');
    expect(await bar(page).getByRole('button', { name: 'Delete' }).getAttribute('aria-disabled')).toBe('true');
    release();
    await expect.poll(() => summary(page).textContent()).toBe('Added split=train to 0 of 5 completions. 5 failed:');
    expect(await page.locator('.bulk-failures li').allTextContents()).toEqual(group.map((id) => `${id}: ${refusal}`));
    // Wide, they fit; on a phone they scroll in their box, which Tab then reaches (as Safari's keyboard otherwise would not).
    const failuresRegion = page.getByRole('region', { name: 'Failures', exact: true });
    expect(await failuresRegion.count()).toBe(0);
    await page.setViewportSize({ width: 320, height: 800 });
    await expect.poll(() => failuresRegion.getAttribute('tabindex')).toBe('0');
    expect(await failuresRegion.getByRole('list', { name: 'Failures' }).getByRole('listitem').count()).toBe(5);
    await page.setViewportSize({ width: 1280, height: 900 });
    for (const id of [group[0], group[1], group[3], group[4]]) expect(await metadataOf(id)).toEqual({ group: 'fail' });
    // Still selected, to try again.
    expect(await bar(page).locator('.bulk-count').textContent()).toBe('5 completions selected');

    await page.unroute('**/v1/stored-completions/metadata');
    await addTag(page, 'split', 'train');
    await expect.poll(() => summary(page).textContent()).toBe('Added split=train to 4 of 5 completions. 1 failed:');
    // Its id once: the API's sentence said it again ("…: No chat completion found with id '…'."), heard twice.
    expect(await page.locator('.bulk-failures li').allTextContents()).toEqual([`${group[2]}: Deleted meanwhile.`]);
    await expect.poll(() => page.locator('#announcer').textContent()).toBe(`Added split=train to 4 of 5 completions. 1 failed: ${group[2]}: Deleted meanwhile.`);
    for (const id of [group[0], group[1], group[3], group[4]]) expect(await metadataOf(id)).toEqual({ group: 'fail', split: 'train' });
    // The deleted one's card is gone, and with it the last of the selection.
    await expectRows(page, [group[0], group[1], group[3], group[4]]);
    expect(await bar(page).isVisible()).toBe(false);
  });

  it('closes a tag form left open when a delete starts: its Apply, pressed while the delete runs, would do nothing', async () => {
    const [a, b, c] = ids.busy as [string, string, string];
    const page = await openGroup('busy');
    await select(page, a, b);
    await bar(page).getByRole('button', { name: 'Add tag' }).click();
    const form = page.getByRole('form', { name: 'Add tag' });
    await form.getByRole('combobox', { name: 'Tag key' }).fill('split');
    await form.getByRole('combobox', { name: 'Tag value' }).fill('eval');
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/chat/completions/*', async (route) => {
      if (route.request().method() === 'DELETE') await held;
      return route.continue();
    });
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 2 completions?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => bar(page).locator('.bulk-progress > span').textContent()).toBe('Deleting: 0 of 2 done');
    expect(await form.count()).toBe(0);
    expect(await bar(page).getByRole('button', { name: 'Add tag' }).getAttribute('aria-disabled')).toBe('true');
    release();
    await expect.poll(() => summary(page).textContent()).toBe('Deleted 2 completions.');
    await page.unroute('**/v1/chat/completions/*');

    // Once it is over, the form opens again and acts.
    await select(page, c);
    await addTag(page, 'split', 'eval');
    await expect.poll(() => summary(page).textContent()).toBe('Added split=eval to 1 completion.');
    expect(await metadataOf(c)).toEqual({ group: 'busy', split: 'eval' });

    // The same tag again: one change, which the service finds already so and does not write (docs/ui.md).
    const sent: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/')) sent.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await select(page, c);
    await addTag(page, 'split', 'eval');
    await expect.poll(() => summary(page).textContent()).toBe('It already had split=eval: nothing changed.');
    expect(sent).toEqual(['POST /v1/stored-completions/metadata']);
  });

  it('stops when asked: the requests under way finish, the rest never start and stay selected', async () => {
    const group = ids.stop;
    const page = await openGroup('stop');
    await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const deleted: string[] = [];
    await page.route('**/v1/chat/completions/*', async (route) => {
      if (route.request().method() !== 'DELETE') return route.continue();
      deleted.push(route.request().url().split('/').pop()!);
      await held;
      return route.continue();
    });
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 8 completions?' }).getByRole('button', { name: 'Delete' }).click();
    // Four at a time: four under way, held.
    await expect.poll(() => deleted.length).toBe(4);
    await bar(page).getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => announced(page)).toBe('Stopping: the requests under way finish, no others start.');
    release();
    await expect.poll(() => summary(page).textContent()).toBe('Deleted 4 of 8 completions. Stopped: 4 not started, still selected.');
    await page.unroute('**/v1/chat/completions/*');
    expect(deleted).toEqual(group.slice(0, 4));
    expect(await apiIds(suite.service, 'metadata[group]=stop&order=desc')).toEqual(group.slice(4));
    await expectRows(page, group.slice(4));
    expect(await bar(page).locator('.bulk-count').textContent()).toBe('4 completions selected');
    // The same button again does the rest.
    expect(await focused(page)).toBe('Delete');
    await bar(page).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete 4 completions?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => summary(page).textContent()).toBe('Deleted 4 completions.');
    expect(await apiIds(suite.service, 'metadata[group]=stop&order=desc')).toEqual([]);
  });

  it('clears the selection when the filters change, and says so', async () => {
    const page = await openGroup('tag');
    // In both orders' first page (23 in the group, 20 a page).
    const id = ids.tag[5]!;
    await select(page, id);
    await expect.poll(() => bar(page).isVisible()).toBe(true);
    await page.getByRole('combobox', { name: 'Order' }).selectOption('asc');
    await expect.poll(() => announced(page)).toBe('Selection cleared: the list was loaded again with other filters or order.');
    expect(await bar(page).isVisible()).toBe(false);
    expect(await page.getByRole('checkbox', { name: `Select ${id}` }).isChecked()).toBe(false);
  });

  it('selects a range with shift-click, and all loaded with one checkbox', async () => {
    const page = await openGroup('tag');
    await page.getByRole('checkbox', { name: `Select ${ids.tag[1]}` }).click();
    await page.getByRole('checkbox', { name: `Select ${ids.tag[4]}` }).click({ modifiers: ['Shift'] });
    await expect.poll(() => bar(page).locator('.bulk-count').textContent()).toBe('4 completions selected');
    const checked = () => page.locator('ol.rows li.row:has(.select-box:checked) a.row-link').allTextContents();
    expect(await checked()).toEqual(ids.tag.slice(1, 5));
    // Partly checked, then every loaded card, then none.
    const selectAll = page.getByRole('checkbox', { name: 'Select all loaded' });
    expect(await selectAll.evaluate((box) => (box as unknown as { indeterminate: boolean }).indeterminate)).toBe(true);
    await selectAll.click();
    expect(await checked()).toEqual(ids.tag.slice(0, 20));
    expect(await bar(page).locator('.bulk-count').textContent()).toBe('20 completions selected');
    await selectAll.click();
    expect(await checked()).toEqual([]);
    expect(await bar(page).isVisible()).toBe(false);
  });

  it('fits a phone\'s width with the bar, its form and a long summary open', async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await page.goto(`${suite.service.origin}/#/?metadata[group]=tag`);
    await expectRows(page, ids.tag.slice(0, 20));
    await select(page, ids.tag[0]!, ids.tag[1]!);
    await addTag(page, 'k'.repeat(64), '');
    await expect.poll(() => summary(page).textContent()).toBe(`Added ${'k'.repeat(64)}= to 2 completions.`);
    await select(page, ids.tag[2]!);
    await bar(page).getByRole('button', { name: 'Add tag' }).click();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(390);
    // Its form closed, the bar stays in sight as the cards scroll under it (open, it scrolls with the page at
    // this width: test/ui-list-changes.test.ts).
    await bar(page).getByRole('button', { name: 'Cancel' }).click();
    await page.mouse.wheel(0, 1500);
    await expect.poll(() => bar(page).evaluate((el) => Math.round(el.getBoundingClientRect().top))).toBe(0);
  });

  it('never leaves a card\'s focused control behind the sticky bar, however tall the bar is', async () => {
    const page = await openGroup('tag');
    await page.setViewportSize({ width: 1000, height: 600 });
    await page.getByRole('checkbox', { name: 'Select all loaded' }).check();
    // The form open makes the bar taller than its first line.
    await bar(page).getByRole('button', { name: 'Add tag' }).click();
    await page.locator('li.row a.row-link').last().focus();
    const hidden: string[] = [];
    // Shift+Tab up the cards: each control is scrolled into view at the window's top edge, where the bar sits.
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Shift+Tab');
      const seen = await page.evaluate(
        '(() => { const el = document.activeElement; const bar = document.querySelector(".bulk"); if (bar.contains(el)) return null; return { name: el.getAttribute("aria-label") ?? el.textContent, top: el.getBoundingClientRect().top, barBottom: bar.getBoundingClientRect().bottom }; })()',
      ) as { name: string; top: number; barBottom: number } | null;
      if (seen && seen.top < seen.barBottom) hidden.push(`${seen.name} at ${Math.round(seen.top)}, bar to ${Math.round(seen.barBottom)}`);
    }
    expect(hidden).toEqual([]);
  });

  it('keeps the bar\'s height off the cards: a selection change sets nothing every card inherits, only the window\'s scroll padding', async () => {
    const page = await openGroup('tag');
    await select(page, ids.tag[0]!);
    await expect.poll(() => bar(page).isVisible()).toBe(true);
    // The bar's height, set as a custom property on the list (each card control's scroll margin), made each selection
    // change that showed or hid the bar recompute the style of every element of every card: 0.4-1 s with 1,200 cards.
    // Each custom property set on the cards' ancestors, as a card's link reads it: the same whether the bar shows or not.
    const seenByCards = () =>
      page.evaluate(`(() => {
        const link = document.querySelector('li.row a.row-link');
        const seen = {};
        for (let el = link.parentElement; el; el = el.parentElement) {
          for (const name of el.style) if (name.startsWith('--')) seen[name] = getComputedStyle(link).getPropertyValue(name);
        }
        return seen;
      })()`) as Promise<Record<string, string>>;
    const withBar = await seenByCards();
    // A card's link focused: the window keeps the bar's height and a gap clear at its top, as the scroll margin did.
    await page.locator('li.row a.row-link').nth(3).focus();
    const clearance = await page.evaluate(`(() => {
      const root = getComputedStyle(document.documentElement);
      return { padding: root.scrollPaddingTop, expected: document.querySelector('.bulk').offsetHeight + parseFloat(root.fontSize) / 2 + 'px' };
    })()`) as { padding: string; expected: string };
    expect(clearance.padding).toBe(clearance.expected);
    await page.getByRole('checkbox', { name: `Select ${ids.tag[0]}` }).uncheck();
    await expect.poll(() => bar(page).isVisible()).toBe(false);
    const withoutBar = await seenByCards();
    expect(Object.keys(withBar).length).toBeGreaterThan(0);
    expect(withoutBar).toEqual(withBar);
    await page.locator('li.row a.row-link').nth(3).focus();
    expect(await page.evaluate('getComputedStyle(document.documentElement).scrollPaddingTop')).toBe('0px');
  });

  it('in a short window, a card focused from the tag form is in sight, the bar leaving the screen to the cards', async () => {
    const page = await openGroup('tag');
    // A laptop at 400 %: the bar, sticky, kept its height as every card's scroll margin and put a card tabbed
    // to below the window's bottom.
    await page.setViewportSize({ width: 320, height: 256 });
    await select(page, ids.tag[0]!, ids.tag[1]!);
    await bar(page).getByRole('button', { name: 'Add tag' }).click();
    await bar(page).getByRole('button', { name: 'Cancel' }).focus();
    const outOfSight: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      const seen = (await page.evaluate(
        '(() => { const el = document.activeElement; const box = el.getBoundingClientRect(); return { name: el.getAttribute("aria-label") ?? el.textContent, top: box.top, bottom: box.bottom, height: innerHeight }; })()',
      )) as { name: string; top: number; bottom: number; height: number };
      if (seen.top < -1 || seen.bottom > seen.height + 1) outOfSight.push(`${seen.name} at ${Math.round(seen.top)}..${Math.round(seen.bottom)} of ${seen.height}`);
    }
    expect(outOfSight).toEqual([]);
    // A phone on its side: the bar, closed, scrolls away with the page rather than staying over the cards.
    await page.setViewportSize({ width: 740, height: 375 });
    await bar(page).getByRole('button', { name: 'Cancel' }).click();
    await page.mouse.wheel(0, 1500);
    await expect.poll(() => bar(page).evaluate((el) => Math.round(el.getBoundingClientRect().bottom) <= 0)).toBe(true);
  });

  it('under forced colours (a contrast theme), a selected card and a pressed toggle still look so', async () => {
    const page = await openGroup('tag');
    await page.emulateMedia({ forcedColors: 'active' });
    await select(page, ids.tag[0]!);
    const outlineOf = (id: string) => page.locator(`li.row[data-id="${id}"]`).evaluate((row) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(row).outlineStyle);
    expect([await outlineOf(ids.tag[0]!), await outlineOf(ids.tag[1]!)]).toEqual(['solid', 'none']);
    const usage = page.getByRole('button', { name: 'Usage' });
    const backgroundOf = () => usage.evaluate((button) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(button).backgroundColor);
    const unpressed = await backgroundOf();
    await usage.click();
    await expect.poll(() => usage.getAttribute('aria-pressed')).toBe('true');
    // In the theme's own highlight, not the page's accent.
    const highlight = await page.evaluate(`(() => {
      const probe = document.createElement('div');
      probe.style.forcedColorAdjust = 'none';
      probe.style.backgroundColor = 'Highlight';
      document.body.append(probe);
      const colour = getComputedStyle(probe).backgroundColor;
      probe.remove();
      return colour;
    })()`);
    expect([await backgroundOf(), unpressed === highlight]).toEqual([highlight, false]);
    // The legend's swatches keep the colours of the bars they name.
    const swatch = page.locator('.swatch').first();
    await swatch.waitFor();
    expect(await swatch.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(el).backgroundColor)).not.toBe(unpressed);
  });

  it('works from the keyboard alone', async () => {
    const [first, second, third] = ids.keys as [string, string, string];
    const page = await openGroup('keys');
    const selectAll = page.getByRole('checkbox', { name: 'Select all loaded' });
    await selectAll.focus();
    await page.keyboard.press('Space');
    await expect.poll(() => bar(page).locator('.bulk-count').textContent()).toBe('3 completions selected');

    // The bar follows "Select all loaded" and the keys' line at the end of its row in the tab order, before the cards.
    await pressTo(page, 'Tab', 'Turn off shortcuts');
    await pressTo(page, 'Tab', 'Add tag');
    await pressTo(page, 'Enter', 'Tag key');
    await page.keyboard.type('set');
    await pressTo(page, 'Enter', 'Tag value');
    await page.keyboard.type('eval');
    await page.keyboard.press('Enter');
    await expect.poll(() => summary(page).textContent()).toBe('Added set=eval to 3 completions.');
    await expect.poll(() => focused(page)).toBe('Dismiss');
    for (const id of ids.keys) expect(await metadataOf(id)).toEqual({ group: 'keys', set: 'eval' });
    await page.keyboard.press('Enter');
    expect(await summary(page).isVisible()).toBe(false);
    expect(await focused(page)).toBe('Select all loaded');

    // Escape closes a form, back on the button that opened it.
    await pressTo(page, 'Tab', 'Turn off shortcuts');
    await pressTo(page, 'Tab', `Select ${first}`);
    await page.keyboard.press('Space');
    for (const name of ['Clear selection', 'Delete', 'Export selected', 'Remove tag']) await pressTo(page, 'Shift+Tab', name);
    await pressTo(page, 'Enter', 'Tag key');
    await page.keyboard.press('Escape');
    expect(await page.getByRole('form', { name: 'Remove tag' }).count()).toBe(0);
    expect(await focused(page)).toBe('Remove tag');

    // Delete: the dialog opens on Cancel; Tab, Enter confirms.
    await pressTo(page, 'Tab', 'Export selected');
    await pressTo(page, 'Tab', 'Delete');
    await pressTo(page, 'Enter', 'Cancel');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => summary(page).textContent()).toBe('Deleted 1 completion.');
    await expectRows(page, [second, third]);
    expect(await metadataOf(first)).toBe(404);
    await expect.poll(() => focused(page)).toBe('Dismiss');
  });
});
