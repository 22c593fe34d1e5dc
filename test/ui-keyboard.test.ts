import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { apiIds, expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

/** Three pages of 20: one "Load more" that leaves more below, and one that brings the last page. */
const COUNT = 45;

describe.skipIf(!browserAvailable)('web UI: paging, from the keyboard and in the summary', () => {
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (let i = 0; i < COUNT; i++) {
      await seedCompletion(client, upstream, {
        created: 1_760_000_000 + i,
        model: 'gpt-4o-mini',
        ...(i === 0 ? { metadata: { first: 'yes' } } : {}),
        messages: [{ role: 'user', content: `Message ${i}` }],
      });
    }
  });

  const focused = (page: import('playwright-core').Page) => page.evaluate('document.activeElement?.textContent ?? null');

  it('"Load more" keeps the focus while more pages follow, and hands it to the first new row on the last page', async () => {
    const all = await apiIds(suite.service, 'order=desc');
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, all.slice(0, 20));
    const more = page.getByRole('button', { name: 'Load more' });
    await more.focus();

    await page.keyboard.press('Enter');
    await expectRows(page, all.slice(0, 40));
    await expect.poll(() => focused(page)).toBe('Load more');

    // Pressed again from the keyboard, without reaching for the mouse or tabbing back to it.
    await page.keyboard.press('Enter');
    await expectRows(page, all);
    await expect.poll(() => focused(page)).toBe(all[40]);
  });

  it('"Export" pressed from the keyboard keeps the focus once the file is saved', async () => {
    const page = await suite.open();
    await signIn(page);
    const exportButton = page.getByRole('button', { name: 'Export' });
    await exportButton.focus();
    const download = page.waitForEvent('download');
    await page.keyboard.press('Enter');
    await download;
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-disabled") ?? "none"')).toBe('none');
    expect(await focused(page)).toBe('Export');
  });

  /** The provider's error, answered for every update (POST) or delete of one completion. */
  async function failWrites(page: import('playwright-core').Page, method: 'POST' | 'DELETE') {
    await page.route('**/v1/chat/completions/*', (route) =>
      route.request().method() === method
        ? route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } }) })
        : route.continue());
  }

  /** The refusal is announced in `scope`, and the focus stays on the button named `button`, enabled again. */
  async function expectRefusedKeepingFocus(page: import('playwright-core').Page, scope: import('playwright-core').Locator, button: string) {
    await expect.poll(() => scope.getByRole('alert').textContent()).toBe('The server had an error while processing your request.');
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-disabled") ?? "none"')).toBe('none');
    expect(await focused(page)).toBe(button);
  }

  it('a Save the service refuses keeps the focus on Save, with its error announced', async () => {
    const [id] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await failWrites(page, 'POST');
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    await editor.getByRole('combobox', { name: 'Key', exact: true }).fill('reviewed');
    await editor.getByRole('combobox', { name: 'Value', exact: true }).fill('yes');
    await editor.getByRole('button', { name: 'Save' }).focus();
    await page.keyboard.press('Enter');
    await expectRefusedKeepingFocus(page, editor, 'Save');
  });

  it('a Delete the service refuses keeps the focus on the dialog\'s Delete, with its error announced', async () => {
    const [id] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await failWrites(page, 'DELETE');
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this completion?' });
    await dialog.getByRole('button', { name: 'Delete' }).focus();
    await page.keyboard.press('Enter');
    await expectRefusedKeepingFocus(page, dialog, 'Delete');
    expect(await page.evaluate('document.activeElement?.closest("dialog") !== null')).toBe(true);
  });

  it('an answer without the API\'s error body (a proxy\'s HTML 502, a bare 500) says what most likely answered, not only its status', async () => {
    const [id] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    for (const [status, expected] of [
      [502, 'The service answered 502 without saying why: most likely a proxy in front of it could not reach it (restarting, or down). Try again in a moment.'],
      [500, "The service answered 500 without saying why (the answer was not the API's): a proxy in front of it may have answered instead."],
    ] as const) {
      await page.unroute('**/v1/chat/completions/*');
      await page.route('**/v1/chat/completions/*', (route) =>
        route.request().method() === 'DELETE'
          ? route.fulfill({ status, contentType: 'text/html', body: `<html><body><h1>${status} Bad Gateway</h1></body></html>` })
          : route.continue());
      await page.getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this completion?' });
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await expect.poll(() => dialog.getByRole('alert').textContent()).toBe(expected);
      await page.keyboard.press('Escape');
    }
  });

  /** The focused element's text, and whether it sits in a dialog, so the page's "Delete" is told from the dialog's. */
  const focusedOutsideDialog = (page: import('playwright-core').Page) =>
    page.evaluate('document.activeElement?.closest("dialog") ? "in a dialog" : document.activeElement?.textContent ?? null');

  it('Escape answers a Delete dialog "no": nothing is deleted, and the focus is back on the Delete that asked', async () => {
    const [id, other] = await apiIds(suite.service, 'order=desc');
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    const deleteButton = page.getByRole('button', { name: 'Delete' });
    await deleteButton.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Delete this completion?' });
    await dialog.waitFor();
    expect(await dialog.evaluate((el) => el.ownerDocument.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent))
      .toBe(`${id} and its input messages will be deleted for good. This cannot be undone.`);
    expect(await focused(page)).toBe('Cancel');
    // While it asks, the dialog's Delete is the page's only one.
    expect(await deleteButton.count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    // The dialog reads as gone once closed; its close event, which returns the focus, runs a task later.
    await expect.poll(() => focusedOutsideDialog(page)).toBe('Delete');
    expect(await deleteButton.isVisible()).toBe(true);
    expect(await page.evaluate('location.hash')).toBe(`#/completions/${id}`);
    expect((await suite.service.request(`/v1/chat/completions/${id}`)).status).toBe(200);

    // The bulk Delete the same way: its question goes, the selection and the rows stay.
    await page.getByRole('link', { name: '← Completions' }).click();
    await page.getByRole('checkbox', { name: `Select ${other}` }).check();
    const bar = page.getByRole('region', { name: 'Selected completions' });
    await bar.getByRole('button', { name: 'Delete' }).click();
    const bulkDialog = page.getByRole('dialog', { name: 'Delete 1 completion?' });
    await bulkDialog.waitFor();
    expect(await focused(page)).toBe('Cancel');
    await page.keyboard.press('Escape');
    await expect.poll(() => bulkDialog.count()).toBe(0);
    await expect.poll(() => focusedOutsideDialog(page)).toBe('Delete');
    expect(await bar.evaluate((el) => el.contains(el.ownerDocument.activeElement))).toBe(true);
    expect(await page.getByRole('checkbox', { name: `Select ${other}` }).isChecked()).toBe(true);
    expect((await suite.service.request(`/v1/chat/completions/${other}`)).status).toBe(200);
  });

  it('the summary counts one completion in the singular', async () => {
    const page = await suite.open('#/?metadata[first]=yes');
    await signIn(page);
    await expect.poll(() => page.locator('.summary').textContent()).toBe('Showing 1 completion.');
  });

  it('the usage panel counts one completion, one row and one bar in the singular', async () => {
    const page = await suite.open('#/?metadata[first]=yes&usage=1');
    await signIn(page);
    const usage = page.locator('#usage-panel');
    await expect.poll(() => usage.locator('.usage-totals').textContent()).toBe('1 completion · 20 tokens (12 prompt, 8 completion)');
    expect(await usage.locator('details.daily summary').textContent()).toBe('Per day and model (1 row)');
    expect(await usage.locator('svg rect title').allTextContents()).toEqual(['2025-10-09 · \u2068gpt-4o-mini\u2069: 1 completion', '2025-10-09 · \u2068gpt-4o-mini\u2069: 20 tokens']);
    expect(await usage.locator('svg').first().getAttribute('aria-label')).toBe('Completions per UTC day: 1 completion over 1 day, at most 1 a day');
  });

  it('a block while it scrolls (a usage table on a phone, the raw JSON) is a region named for it that Tab reaches, and no stop while it does not; placeholders read in the muted colour', async () => {
    const page = await suite.open('#/?metadata[first]=yes&usage=1');
    await signIn(page);
    await page.locator('#usage-panel .usage-totals').waitFor();
    await page.locator('#usage-panel details.daily summary').click();
    const reachable = (name: string) =>
      page.getByRole('region', { name, exact: true }).evaluate((el) => {
        (el as unknown as { focus(): void }).focus();
        // In the tab order (0), not only focusable by script (-1).
        return (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement === el && el.getAttribute('tabindex') === '0';
      });
    const stops = () => page.locator('#usage-panel .table-scroll[tabindex]').count();
    // Wide enough for the tables, nothing to scroll: no extra stop for the keyboard.
    expect(await stops()).toBe(0);
    await page.setViewportSize({ width: 340, height: 740 });
    await expect.poll(() => page.getByRole('region', { name: 'Per model', exact: true }).count()).toBe(1);
    expect(await reachable('Per model')).toBe(true);
    // Wide again while it has the focus: it keeps its stop (and the focus) until left, then lets it go.
    await page.setViewportSize({ width: 1280, height: 800 });
    const focusedClass = () => page.evaluate('document.activeElement?.className ?? null');
    await page.waitForTimeout(200);
    expect(await focusedClass()).toBe('table-scroll');
    await page.keyboard.press('Tab');
    await expect.poll(stops).toBe(0);

    const colours = await page.evaluate(`(() => {
      const search = document.querySelector('input[name=search]');
      const label = document.querySelector('.field label');
      return { placeholder: getComputedStyle(search, '::placeholder').color, muted: getComputedStyle(label).color };
    })()`);
    expect((colours as { placeholder: string }).placeholder).toBe((colours as { muted: string }).muted);

    await page.locator('li.row a.row-link').first().click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    for (const summary of ['curl', 'Raw JSON']) await page.locator('summary', { hasText: summary }).first().click();
    // The raw JSON is taller than its box; the one-line message's curl command is not.
    await expect.poll(() => page.getByRole('region', { name: 'Raw JSON', exact: true }).count()).toBe(1);
    expect(await reachable('Raw JSON')).toBe(true);
    expect(await page.locator('.replay .code[tabindex]').count()).toBe(0);
  });
});
