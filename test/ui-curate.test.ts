import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const KEY = 'sk-ui-curate-key-0001';
const TUNE_KEY = 'sk-ui-curate-key-0002';
const NOTE_KEY = 'sk-ui-curate-key-0003';
const BASE = 1_760_000_000;

describe.skipIf(!browserAvailable)('web UI: curating, signing out, wrong keys, export', () => {
  const ids: string[] = [];
  let multiline = '';
  // Named keys: any other key is refused with OpenAI's 401.
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client(KEY);
    for (let i = 0; i < 6; i++) {
      ids.push(
        await seedCompletion(client, upstream, {
          created: BASE + i,
          model: 'gpt-4o-mini',
          metadata: { env: 'prod', user: `u_${i}` },
          messages: [{ role: 'user', content: `Message ${i}` }],
        }),
      );
    }
    // A value with line breaks, as the API takes it: more than a one-line field can hold.
    multiline = await seedCompletion(service.client(NOTE_KEY), upstream, {
      created: BASE + 6,
      model: 'gpt-4o-mini',
      metadata: { note: 'line one\nline two\r\nline three', env: 'prod' },
      messages: [{ role: 'user', content: 'A note on two lines' }],
    });
    // In a project of their own: a refusal and an answer, of which only the answer makes a fine-tuning example.
    for (const [i, reply] of [{ refusal: "I can't help with that." }, { content: 'Sure.' }].entries()) {
      await seedCompletion(service.client(TUNE_KEY), upstream, { created: BASE + 10 + i, model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Ask ${i}` }], replies: [reply] });
    }
  }, { API_KEYS: `${KEY}:ui-project,${TUNE_KEY}:tune-project,${NOTE_KEY}:note-project` });
  const open = (hash?: string) => suite.open(hash);

  async function retrieve(id: string, key = KEY) {
    const res = await suite.service.request(`/v1/chat/completions/${id}`, { key });
    return { status: res.status, body: (await res.json()) as { metadata: Record<string, string> } };
  }

  /** A completion's page, signed in, with its metadata editor open. */
  async function openEditor(id: string, key = KEY) {
    const page = await open(`#/completions/${id}`);
    await signIn(page, key);
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    return { page, editor: page.getByRole('form', { name: 'Edit metadata' }) };
  }

  it('says a wrong key is not one this service accepts (not where to find an OpenAI key) and stays signed out', async () => {
    const wrong = 'sk-wrong-key-abcd1234';
    // The API answers in OpenAI's words, which send the user to OpenAI's site; the page says what the key is here.
    const expected = (await (await suite.service.request('/v1/chat/completions', { key: wrong })).json()) as { error: { message: string } };
    expect(expected.error.message).toMatch(/^Incorrect API key provided: sk-wr\*+1234\. You can find your API key at https:\/\/platform\.openai\.com/);
    const page = await open();
    await page.getByRole('textbox', { name: 'API key' }).fill(wrong);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe(
      'This service does not accept this key. Use a key set in its API_KEYS by whoever runs it: the key your clients send to this service, which need not be an OpenAI key.',
    );
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
  });

  it('edits metadata within the API limits, and the filters follow', async () => {
    const id = ids[1]!;
    const { page, editor } = await openEditor(id);

    // Limits are checked before anything is sent.
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('k'.repeat(65));
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('v');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => editor.getByRole('alert').textContent()).toContain('longer than 64 characters');
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('big');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('v'.repeat(513));
    await editor.getByRole('button', { name: 'Add pair' }).click();
    await expect.poll(() => editor.getByRole('alert').textContent()).toContain('longer than 512 characters');
    for (let i = 0; i < 15; i++) {
      await editor.getByRole('combobox', { name: 'Key', exact: true }).fill(`extra_${i}`);
      await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('x');
      await editor.getByRole('button', { name: 'Add pair' }).click();
    }
    await expect.poll(() => editor.getByRole('alert').textContent()).toContain('At most 16 pairs: remove 1.');
    expect(await editor.textContent()).toContain('16 of 16 pairs');
    expect((await retrieve(id)).body.metadata).toEqual({ env: 'prod', user: 'u_1' });
    await editor.getByRole('button', { name: 'Cancel' }).click();

    // Add one pair, change one, remove one.
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    await editor.getByRole('button', { name: 'Remove user' }).click();
    await editor.getByRole('button', { name: 'Change env' }).click();
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('staging');
    await editor.getByRole('button', { name: 'Update pair' }).click();
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('reviewed');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('yes');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await retrieve(id)).body.metadata).toEqual({ env: 'staging', reviewed: 'yes' });
    await expect.poll(() => page.getByRole('complementary', { name: 'Details' }).getByRole('list', { name: 'Metadata' }).textContent()).toBe('env: stagingreviewed: yes');

    // The list filtered on the new pair finds it, and only it; on the removed pair no longer.
    await page.getByRole('link', { name: '← Completions' }).click();
    await page.getByRole('combobox', { name: 'Key', exact: true }).fill('reviewed');
    await page.getByRole('combobox', { name: 'Value', exact: true }).fill('yes');
    await page.getByRole('button', { name: 'Add metadata filter' }).click();
    await expectRows(page, [id]);
    await page.getByRole('button', { name: 'Remove filter reviewed = yes' }).click();
    await page.getByRole('combobox', { name: 'Key', exact: true }).fill('user');
    await page.getByRole('combobox', { name: 'Value', exact: true }).fill('u_1');
    await page.getByRole('button', { name: 'Add metadata filter' }).click();
    await expect.poll(() => page.locator('.summary').textContent()).toBe('No completions match these filters.');
    expect(await apiIds(suite.service, 'metadata[user]=u_1', KEY)).toEqual([]);
  });

  it('renames a key with Change, in its place, and a rename onto another key replaces that pair', async () => {
    const id = ids[3]!;
    const { editor } = await openEditor(id);
    const pairsText = () => editor.getByRole('list', { name: 'Metadata pairs' }).textContent();
    await editor.getByRole('button', { name: 'Change env' }).click();
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('environment');
    await editor.getByRole('button', { name: 'Update pair' }).click();
    expect(await pairsText()).toBe('environment = prodChangeRemoveuser = u_3ChangeRemove');
    // The button says what it will do again once the change is taken.
    expect(await editor.getByRole('button', { name: 'Add pair' }).count()).toBe(1);
    await editor.getByRole('button', { name: 'Change environment' }).click();
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('user');
    // Onto a key another pair has: that pair's value goes, and the button says so before it is pressed.
    expect(await editor.getByRole('button', { name: 'Replace value' }).count()).toBe(1);
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('u_30');
    await editor.getByRole('button', { name: 'Replace value' }).click();
    expect(await pairsText()).toBe('user = u_30ChangeRemove');
    // Emptying both fields gives the change up: the next pair typed is added, the changed one stays.
    await editor.getByRole('button', { name: 'Change user' }).click();
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('');
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('split');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('train');
    await editor.getByRole('button', { name: 'Add pair' }).click();
    expect(await pairsText()).toBe('user = u_30ChangeRemovesplit = trainChangeRemove');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await retrieve(id)).body.metadata).toEqual({ user: 'u_30', split: 'train' });
  });

  it('a value with line breaks put in the fields by Change is saved as stored, renamed or untouched', async () => {
    const { page, editor } = await openEditor(multiline, NOTE_KEY);
    await editor.getByRole('button', { name: 'Change note' }).click();
    // Its line breaks dropped from the field (a text field holds one line), which Save wrote back: 'line oneline two…'.
    expect(await editor.getByRole('combobox', { name: 'Value', exact: true }).inputValue()).toBe('line oneline twoline three');
    await editor.getByRole('button', { name: 'Save' }).click();
    await editor.waitFor({ state: 'detached' });
    expect((await retrieve(multiline, NOTE_KEY)).body.metadata).toEqual({ note: 'line one\nline two\r\nline three', env: 'prod' });

    await page.getByRole('button', { name: 'Edit metadata' }).click();
    await editor.getByRole('button', { name: 'Change note' }).click();
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('notes');
    await editor.getByRole('button', { name: 'Update pair' }).click();
    await editor.getByRole('button', { name: 'Save' }).click();
    await editor.waitFor({ state: 'detached' });
    expect((await retrieve(multiline, NOTE_KEY)).body.metadata).toEqual({ notes: 'line one\nline two\r\nline three', env: 'prod' });
  });

  it('"Remove" on the pair being changed takes its key and value out of the fields: Save does not put it back', async () => {
    const id = ids[0]!;
    const { editor } = await openEditor(id);
    await editor.getByRole('button', { name: 'Change user' }).click();
    await editor.getByRole('button', { name: 'Remove user' }).click();
    expect(await editor.getByRole('combobox', { name: 'Key', exact: true }).inputValue()).toBe('');
    expect(await editor.getByRole('combobox', { name: 'Value', exact: true }).inputValue()).toBe('');
    expect(await editor.getByRole('button', { name: 'Add pair' }).count()).toBe(1);
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await retrieve(id)).body.metadata).toEqual({ env: 'prod' });

    // A key typed that a pair already has replaces that pair's value, and the button says so.
    const { editor: again } = await openEditor(id);
    const key = again.getByRole('combobox', { name: 'Key', exact: true });
    await key.fill('env');
    expect(await again.getByRole('button', { name: 'Replace value' }).count()).toBe(1);
    await key.fill('envx');
    expect(await again.getByRole('button', { name: 'Add pair' }).count()).toBe(1);
    await key.fill('env');
    await again.getByRole('combobox', { name: 'Value', exact: true }).fill('staging');
    await again.getByRole('button', { name: 'Replace value' }).click();
    expect(await again.getByRole('list', { name: 'Metadata pairs' }).textContent()).toBe('env = stagingChangeRemove');
    expect(await again.getByRole('button', { name: 'Add pair' }).count()).toBe(1);
  });

  it('a key refused while signed in: the sign-in form says so, and the next sign-in starts from the list, not the old view', async () => {
    const page = await open('#/?model=gpt-4o-mini&search=Message');
    await signIn(page, KEY);
    const first = page.locator('ol.rows a.row-link').first();
    await first.waitFor();
    // Every card's preview in: a request still on its way would meet the refusal first, and leave before the click.
    await expect.poll(() => page.evaluate("[...document.querySelectorAll('.preview-text')].every((p) => p.textContent !== '…')")).toBe(true);
    // The operator took the key out of API_KEYS: the service itself refuses it from now on.
    await page.route('**/v1/**', (route) => route.continue({ headers: { ...route.request().headers(), authorization: 'Bearer sk-taken-out-of-api-keys-01' } }));
    await first.click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe(
      'This service no longer accepts the key you signed in with (its operator may have changed API_KEYS). Sign in with a key it accepts.',
    );
    expect(await page.evaluate('location.hash')).toBe('');
    await page.unrouteAll();
    await signIn(page, KEY);
    await expect.poll(() => page.getByRole('heading', { name: 'Completions', level: 1 }).isVisible()).toBe(true);
    expect(await page.evaluate('location.hash')).toBe('');
    expect(await page.getByRole('searchbox', { name: 'Search' }).inputValue()).toBe('');
    expect(await page.getByRole('combobox', { name: 'Model' }).inputValue()).toBe('');
    expect(await page.locator('#signed-in').textContent()).toBe('Key sk-ui…0001');
  });

  it('Escape leaves the metadata editor, and asks first when edits would be lost', async () => {
    const id = ids[4]!;
    const { page, editor } = await openEditor(id);
    const editButton = page.getByRole('button', { name: 'Edit metadata' });
    const focusedText = () => page.evaluate('document.activeElement?.textContent');
    // Nothing typed: Escape closes it, focus back on the button that opened it.
    await page.keyboard.press('Escape');
    await expect.poll(() => editor.count()).toBe(0);
    expect(await focusedText()).toBe('Edit metadata');
    expect(await editButton.getAttribute('aria-expanded')).toBe('false');

    // "Change" without changing anything is nothing to lose either.
    await editButton.press('Enter');
    await editor.getByRole('button', { name: 'Change env' }).click();
    await page.keyboard.press('Escape');
    await expect.poll(() => editor.count()).toBe(0);

    // A pair removed and one typed but not added: Escape asks, and its own Escape (or "Keep editing") keeps them.
    await editButton.press('Enter');
    await editor.getByRole('button', { name: 'Remove user' }).click();
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('split');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('train');
    await page.keyboard.press('Escape');
    const question = page.getByRole('dialog', { name: 'Discard your changes?' });
    await question.waitFor();
    expect(await focusedText()).toBe('Keep editing');
    await page.keyboard.press('Escape');
    await expect.poll(() => question.count()).toBe(0);
    expect(await editor.getByRole('combobox', { name: 'Value', exact: true }).inputValue()).toBe('train');
    expect(await page.evaluate('document.activeElement?.name')).toBe('value');
    expect(await editor.getByRole('list', { name: 'Metadata pairs' }).textContent()).toBe('env = prodChangeRemove');
    await page.keyboard.press('Escape');
    await question.getByRole('button', { name: 'Keep editing' }).click();
    expect(await editor.isVisible()).toBe(true);

    // A reload with edits typed gets the browser's own question.
    let unloadAsked = false;
    page.on('dialog', (dialog) => {
      unloadAsked = dialog.type() === 'beforeunload';
      void dialog.dismiss();
    });
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => unloadAsked).toBe(true);

    // "Discard changes" closes it, nothing sent.
    const again = await openEditor(id);
    await again.editor.getByRole('combobox', { name: 'Key', exact: true }).fill('split');
    await again.page.keyboard.press('Escape');
    await again.page.getByRole('dialog', { name: 'Discard your changes?' }).getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(() => again.editor.count()).toBe(0);
    expect(await again.page.evaluate('document.activeElement?.textContent')).toBe('Edit metadata');
    expect((await retrieve(id)).body.metadata).toEqual({ env: 'prod', user: 'u_4' });
  });

  it('leaving a conversation with metadata typed and not saved asks first; called off, nothing is lost', async () => {
    const id = ids[5]!;
    const listPage = await open();
    await signIn(listPage, KEY);
    await listPage.getByRole('link', { name: id }).click();
    const page = listPage;
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    // The address the row opened (it names the list: `?order=desc`).
    const opened = new URL(page.url()).hash;
    expect(opened).toBe(`#/completions/${id}?order=desc`);
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('split');
    const asked: string[] = [];
    let accept = false;
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void (accept ? dialog.accept() : dialog.dismiss());
    });
    // Away and back before the page reads either change of address (a click, then Back at once): it never left,
    // so nothing is asked and nothing redrawn; the typed key is still there.
    await page.evaluate(`location.hash = '#/'; location.hash = '${opened}';`);
    await page.evaluate('new Promise((resolve) => setTimeout(resolve, 50))');
    expect(asked).toEqual([]);
    expect(await editor.getByRole('combobox', { name: 'Key', exact: true }).inputValue()).toBe('split');
    // "← Completions", then the browser's Back: each asks, and called off, the editor and the URL stay.
    await page.getByRole('link', { name: '← Completions' }).click();
    // Back only once the first question was answered: Back at once could come before the click's change of
    // address was read, and the page would then have gone nowhere, with nothing to ask.
    await expect.poll(() => asked.length).toBe(1);
    await page.goBack();
    await expect.poll(() => asked.length).toBe(2);
    expect(asked[0]).toBe('Leave this completion? The metadata changes you made have not been saved.');
    expect(await editor.getByRole('combobox', { name: 'Key', exact: true }).inputValue()).toBe('split');
    expect(await page.evaluate('location.hash')).toBe(opened);
    // Confirmed, it leaves; nothing was sent.
    accept = true;
    await page.getByRole('link', { name: '← Completions' }).click();
    await page.getByRole('heading', { name: 'Completions' }).waitFor();
    expect(asked).toHaveLength(3);
    expect((await retrieve(id)).body.metadata).toEqual({ env: 'prod', user: 'u_5' });
    // Without edits, nothing is asked.
    await page.getByRole('link', { name: id }).click();
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    await page.getByRole('link', { name: '← Completions' }).click();
    await page.getByRole('heading', { name: 'Completions' }).waitFor();
    expect(asked).toHaveLength(3);
  });

  it('deletes after a confirmation, through the public endpoint', async () => {
    const id = ids[2]!;
    const page = await open();
    await signIn(page, KEY);
    await page.getByRole('link', { name: id, exact: true }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this completion?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await dialog.count()).toBe(0);
    expect((await retrieve(id)).status).toBe(200);

    await page.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    // Back on the list it was opened from (its own history entry: the address had no hash).
    await page.waitForURL((url) => url.hash === '');
    expect(await page.locator('p.notice').textContent()).toBe(`Deleted ${id}.`);
    await expect.poll(async () => (await retrieve(id)).status).toBe(404);
    await expect.poll(() => page.locator('ol.rows a.row-link').allTextContents()).not.toContain(id);
    expect(await page.locator('ol.rows a.row-link').count()).toBe(ids.length - 1);
  });

  /** The ids, in file order, of the JSONL that "Export" downloads from `page`. */
  async function exportedIds(page: import('playwright-core').Page): Promise<string[]> {
    // Named in local time, the user's own clock.
    const hour = () => page.evaluate('(() => { const d = new Date(); const two = (n) => String(n).padStart(2, "0"); return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}-${two(d.getHours())}`; })()');
    const before = String(await hour());
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const after = String(await hour());
    expect(download.suggestedFilename()).toMatch(new RegExp(`^stored-completions-completions-(${before}|${after})\\d{4}\\.jsonl$`));
    return readFileSync((await download.path())!, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
  }

  it.each([
    ['the current view as JSONL, newest first as the list shows it', '#/?metadata[env]=prod', 'metadata[env]=prod&order=desc'],
    ['oldest first when the list is ordered oldest first', '#/?order=asc', 'order=asc'],
  ])('exports %s', async (_, hash, query) => {
    const page = await open(hash);
    await signIn(page, KEY);
    const expected = await apiIds(suite.service, query, KEY);
    await expectRows(page, expected);
    expect(await exportedIds(page)).toEqual(expected);
  });

  it("exports the view as eval lines that carry each reply as its sample, for an eval run to grade as answered", async () => {
    const page = await open('#/?metadata[env]=prod');
    await signIn(page, KEY);
    const expected = await apiIds(suite.service, 'metadata[env]=prod&order=desc', KEY);
    await expectRows(page, expected);
    await page.getByRole('combobox', { name: 'Export format' }).selectOption('eval');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { item: { id: string; output: string }; sample: { output_text: string } });
    expect(lines.map((line) => line.item.id)).toEqual(expected);
    expect(lines.map((line) => Object.keys(line))).toEqual(expected.map(() => ['item', 'sample']));
    expect(lines.map((line) => line.sample.output_text)).toEqual(lines.map((line) => line.item.output));
  });

  it('says how many lines it exported, and downloads no empty file for a view with no match', async () => {
    const page = await open('#/?metadata[env]=prod');
    await signIn(page, KEY);
    const expected = await apiIds(suite.service, 'metadata[env]=prod', KEY);
    await exportedIds(page);
    const status = page.locator('.export-status');
    await expect.poll(() => status.textContent()).toBe(`Exported ${expected.length} lines (completions).`);

    await page.goto(`${suite.service.origin}/#/?metadata[env]=nowhere`);
    await expect.poll(() => page.locator('.summary').textContent()).toBe('No completions match these filters.');
    // The count was about the view before this one.
    expect(await status.isVisible()).toBe(false);
    let downloads = 0;
    page.on('download', () => downloads++);
    await page.getByRole('button', { name: 'Export' }).click();
    await expect.poll(() => status.textContent()).toBe('Nothing to export: no completion matches this view.');
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Nothing to export: no completion matches this view.');
    expect(downloads).toBe(0);
  });

  it('says how many completions a fine-tuning export left out when the whole view is loaded', async () => {
    const page = await open();
    await signIn(page, TUNE_KEY);
    await expectRows(page, await apiIds(suite.service, 'order=desc', TUNE_KEY));
    await page.getByRole('combobox', { name: 'Export format' }).selectOption('finetune');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    expect(readFileSync((await download.path())!, 'utf8').trim().split('\n')).toHaveLength(1);
    await expect
      .poll(() => page.locator('.export-status').textContent())
      .toBe("Exported 1 line (finetune). 1 of the 2 completions make no fine-tuning example (a refusal, a reply cut off, a tool call without its result...) and were left out: the command-line export names each one's reason.");
  });

  it('signs out: the key is forgotten, also after a reload', async () => {
    const page = await open();
    await signIn(page, KEY);
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // Only the mark that this tab signed out (so it takes no other tab's key: docs/ui.md) is left.
    expect(await page.evaluate('JSON.stringify(Object.entries(sessionStorage))')).toBe('[["stored-completions:signed-out","1"]]');
    expect(await page.locator('ol.rows').count()).toBe(0);
    await page.reload();
    await page.getByRole('textbox', { name: 'API key' }).waitFor();
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
  });
});
