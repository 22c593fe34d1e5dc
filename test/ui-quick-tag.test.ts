import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const KEY = 'sk-ui-quick-tag-key-0001';
const OTHER_KEY = 'sk-ui-quick-tag-key-0002';
const BASE = 1_760_400_000;
/** A completion at the API's most: 16 pairs. */
const FULL = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`p${String(i).padStart(2, '0')}`, `v${i}`]));

describe.skipIf(!browserAvailable)('web UI: tagging a conversation in one step, and suggestions for metadata', () => {
  /** Oldest first: plain, prod, full. */
  const ids: string[] = [];
  let otherId = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client(KEY);
    for (const [i, metadata] of [{ env: 'dev' }, { env: 'prod', user: 'u_1' }, FULL].entries()) {
      ids.push(await seedCompletion(client, upstream, { created: BASE + i, model: 'gpt-4o-mini', metadata, messages: [{ role: 'user', content: `Message ${i}` }] }));
    }
    otherId = await seedCompletion(service.client(OTHER_KEY), upstream, { created: BASE, model: 'gpt-4o-mini', metadata: { team: 'other' }, messages: [{ role: 'user', content: 'Theirs' }] });
  }, { API_KEYS: `${KEY}:quick-tag-project,${OTHER_KEY}:other-project` });

  const metadataOf = async (id: string, key = KEY) => ((await (await suite.service.request(`/v1/chat/completions/${id}`, { key })).json()) as { metadata: Record<string, string> }).metadata;
  const setMetadata = async (id: string, metadata: Record<string, string>) => {
    const res = await suite.service.request(`/v1/chat/completions/${id}`, { key: KEY, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ metadata }) });
    expect(res.status).toBe(200);
  };
  const heading = (page: Page) => page.locator('h1.completion-id').textContent();
  /** Pairs are isolated in the sentences (FSI…PDI, dom.js isolatedText): taken out here, to read them. */
  const unisolated = (text: unknown) => (typeof text === 'string' ? text.replace(/[\u2068\u2069]/g, '') : text);
  const announced = async (page: Page) => unisolated(await page.locator('#announcer').textContent());
  /** The line under the buttons as shown (null when hidden), after its class: "tag-status error: …" for a refusal. */
  const status = async (page: Page) => unisolated(await page.evaluate(`(() => { const el = document.querySelector('.tag-status'); return el.hidden ? null : el.className + ': ' + el.innerText; })()`));
  const chips = (page: Page) => page.getByRole('complementary', { name: 'Details' }).getByRole('list', { name: 'Metadata' }).getByRole('link').allTextContents();
  const tagButton = (page: Page) => page.getByRole('button', { name: /^Tag\b/ });
  /** The suggestions a field offers: its datalist's options, in order. */
  const suggestions = (page: Page, selector: string) => page.evaluate(`[...(document.querySelector(${JSON.stringify(selector)}).list?.options ?? [])].map((o) => o.value)`);

  it('suggests the keys of the completions drawn, and the values of the key typed, in the filter, the editor and the tag form', async () => {
    const page = await suite.open();
    await signIn(page, KEY);
    await expectRows(page, [...ids].reverse());
    const fullKeys = Object.keys(FULL);
    const key = page.getByRole('combobox', { name: 'Key', exact: true });
    await key.focus();
    expect(await suggestions(page, 'input[name=metadata-key]')).toEqual(['env', ...fullKeys, 'user']);
    await key.fill('env');
    await page.getByRole('combobox', { name: 'Value', exact: true }).focus();
    expect(await suggestions(page, 'input[name=metadata-value]')).toEqual(['dev', 'prod']);

    // The selection's tag form.
    await page.getByRole('checkbox', { name: `Select ${ids[0]!}` }).check();
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByRole('combobox', { name: 'Tag key' }).fill('user');
    await page.getByRole('combobox', { name: 'Tag value' }).focus();
    expect(await suggestions(page, 'input[name=tag-value]')).toEqual(['u_1']);
    await page.getByRole('button', { name: 'Cancel' }).click();

    // The editor, in a conversation.
    await page.getByRole('link', { name: ids[1]!, exact: true }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).focus();
    expect(await suggestions(page, 'form.metadata-editor input[name=key]')).toEqual(['env', ...fullKeys, 'user']);

    // Another key-holder is another project: none of these are offered to it.
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, OTHER_KEY);
    await expectRows(page, [otherId]);
    await page.getByRole('combobox', { name: 'Key', exact: true }).focus();
    expect(await suggestions(page, 'input[name=metadata-key]')).toEqual(['team']);
  });

  it('"Tag" (and "t") adds the pair set last to the map as it is now, says so, undoes it, refuses a 17th pair, and is kept per key', async () => {
    const page = await suite.open();
    await signIn(page, KEY);
    await expectRows(page, [...ids].reverse());
    await page.getByRole('link', { name: ids[0]!, exact: true }).click();
    await expect.poll(() => heading(page)).toBe(ids[0]!);
    await page.getByRole('button', { name: 'Edit metadata' }).waitFor();
    // No pair set yet: no button, and "t" says how to get one.
    expect(await tagButton(page).count()).toBe(0);
    await page.keyboard.press('t');
    await expect.poll(() => announced(page)).toBe('No tag to add yet: a pair added in "Edit metadata" (or with "Add tag") is the one "t" adds.');

    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('eval');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('batch-1');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => metadataOf(ids[0]!)).toEqual({ env: 'dev', eval: 'batch-1' });
    await expect.poll(() => tagButton(page).textContent()).toBe('Tag eval: batch-1');
    expect(await tagButton(page).getAttribute('aria-keyshortcuts')).toBe('t');

    // On to the next conversation, whose map changes elsewhere after it was drawn: the tag is added to the map as it is now.
    await page.keyboard.press('k');
    await expect.poll(() => heading(page)).toBe(ids[1]!);
    await expect.poll(() => chips(page)).toEqual(['env: prod', 'user: u_1']);
    await setMetadata(ids[1]!, { env: 'prod', user: 'u_1', other: 'x' });
    await page.keyboard.press('t');
    await expect.poll(() => metadataOf(ids[1]!)).toEqual({ env: 'prod', user: 'u_1', other: 'x', eval: 'batch-1' });
    await expect.poll(() => status(page)).toBe('tag-status: Tagged eval: batch-1. Undo');
    await expect.poll(() => announced(page)).toBe('Tagged eval: batch-1.');
    expect(await page.locator('.tag-status > span').textContent()).toBe('Tagged \u2068eval\u2069: \u2068batch-1\u2069.');
    await expect.poll(() => chips(page)).toEqual(['env: prod', 'user: u_1', 'other: x', 'eval: batch-1']);
    // Pressed again: nothing to write.
    await tagButton(page).click();
    await expect.poll(() => status(page)).toBe('tag-status: It already has eval: batch-1: nothing changed. Undo');
    // Undo takes the pair out again, and only it; the focus waits on "Tag".
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => metadataOf(ids[1]!)).toEqual({ env: 'prod', user: 'u_1', other: 'x' });
    await expect.poll(() => status(page)).toBe('tag-status: Removed eval: batch-1 again.');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Tag eval: batch-1');
    await expect.poll(() => chips(page)).toEqual(['env: prod', 'user: u_1', 'other: x']);

    // A value replaced is put back by Undo.
    await setMetadata(ids[1]!, { env: 'prod', eval: 'old' });
    await page.keyboard.press('t');
    await expect.poll(() => status(page)).toBe('tag-status: Tagged eval: batch-1 (it was eval: old). Undo');
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => metadataOf(ids[1]!)).toEqual({ env: 'prod', eval: 'old' });
    // Stored is not yet answered: a "t" before the page has the answer gets "Wait" (ui-conversation-keys).
    await expect.poll(() => status(page)).toBe('tag-status: Put back eval: old.');
    // Changed by someone else since the tag: Undo leaves theirs.
    await page.keyboard.press('t');
    await expect.poll(() => metadataOf(ids[1]!)).toEqual({ env: 'prod', eval: 'batch-1' });
    await setMetadata(ids[1]!, { env: 'prod', eval: 'theirs' });
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => status(page)).toBe('tag-status: Not undone: eval was changed to theirs meanwhile, and is left so.');
    expect(await metadataOf(ids[1]!)).toEqual({ env: 'prod', eval: 'theirs' });
    await expect.poll(() => chips(page)).toEqual(['env: prod', 'eval: theirs']);
    await setMetadata(ids[1]!, { env: 'prod', eval: 'old' });

    // Not while typing, nor with the editor open (hidden then: its save would overwrite the tag).
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    expect(await tagButton(page).count()).toBe(0);
    await editor.getByRole('combobox', { name: 'Key', exact: true }).press('t');
    expect(await editor.getByRole('combobox', { name: 'Key', exact: true }).inputValue()).toBe('t');
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => tagButton(page).count()).toBe(1);
    expect(await metadataOf(ids[1]!)).toEqual({ env: 'prod', eval: 'old' });

    // A completion at 16 pairs: said, nothing sent.
    await page.keyboard.press('k');
    await expect.poll(() => heading(page)).toBe(ids[2]!);
    await tagButton(page).waitFor();
    // (Changed since it was drawn: the map read is the one shown with the refusal.)
    const fifteen = Object.fromEntries(Object.entries(FULL).slice(1));
    await setMetadata(ids[2]!, { ...fifteen, q: 'new' });
    await page.keyboard.press('t');
    await expect.poll(() => status(page)).toBe('tag-status error: Not tagged: it has 16 metadata pairs already, the most allowed. Remove one in "Edit metadata" first.');
    await expect.poll(() => chips(page).then((shown) => shown.at(-1))).toBe('q: new');
    expect(await metadataOf(ids[2]!)).toEqual({ ...fifteen, q: 'new' });

    // Kept across a reload, for this key only.
    await page.reload();
    await expect.poll(() => tagButton(page).textContent()).toBe('Tag eval: batch-1');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, OTHER_KEY);
    await page.getByRole('link', { name: otherId, exact: true }).click();
    await expect.poll(() => heading(page)).toBe(otherId);
    await page.getByRole('button', { name: 'Edit metadata' }).waitFor();
    expect(await tagButton(page).count()).toBe(0);
  });

  it('"Add tag" on a selection sets the pair "Tag" adds', async () => {
    const page = await suite.open();
    await signIn(page, KEY);
    await expectRows(page, [...ids].reverse());
    await page.getByRole('checkbox', { name: `Select ${ids[0]!}` }).check();
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByRole('combobox', { name: 'Tag key' }).fill('review');
    await page.getByRole('combobox', { name: 'Tag value' }).fill('yes');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => metadataOf(ids[0]!)).toEqual({ env: 'dev', eval: 'batch-1', review: 'yes' });
    await page.getByRole('link', { name: ids[1]!, exact: true }).click();
    await expect.poll(() => tagButton(page).textContent()).toBe('Tag review: yes');
  });

  // Last: it deletes a completion the tests above use.
  it('a completion deleted meanwhile is said so, in sight and heard, without an "Undo" that cannot work', async () => {
    const id = ids[1]!;
    const page = await suite.open();
    await signIn(page, KEY);
    await page.getByRole('link', { name: id, exact: true }).click();
    await expect.poll(() => heading(page)).toBe(id);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('gone');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('soon');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => tagButton(page).textContent()).toBe('Tag gone: soon');
    const { gone: _, ...rest } = await metadataOf(id);
    await setMetadata(id, rest);
    await tagButton(page).click();
    await expect.poll(() => status(page)).toBe('tag-status: Tagged gone: soon. Undo');
    expect((await suite.service.request(`/v1/chat/completions/${id}`, { key: KEY, method: 'DELETE' })).status).toBe(200);
    // It said the API's sentence with the whole id, and offered "Undo" again, which could only fail the same way.
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => status(page)).toBe('tag-status error: Not undone: this completion was deleted meanwhile.');
    await expect.poll(() => announced(page)).toBe('Not undone: this completion was deleted meanwhile.');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Tag gone: soon');
    await page.keyboard.press('Enter');
    await expect.poll(() => status(page)).toBe('tag-status error: Not tagged: this completion was deleted meanwhile.');
    await expect.poll(() => announced(page)).toBe('Not tagged: this completion was deleted meanwhile.');
  });
});
