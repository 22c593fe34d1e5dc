import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, openConversation, signIn, useUiSuite } from './helpers/ui-page.ts';

/** Values that differ only at their edges: each filters apart, so each must read apart. */
const VALUES = { leading: ' prod', trailing: 'prod ', plain: 'prod', quoted: '"prod"', empty: '' } as const;

describe.skipIf(!browserAvailable)('web UI: metadata whose edges are spaces', () => {
  const ids = {} as Record<keyof typeof VALUES, string>;
  const suite = useUiSuite(async ({ service, upstream }) => {
    let created = 1_760_000_000;
    for (const [name, value] of Object.entries(VALUES) as [keyof typeof VALUES, string][]) {
      ids[name] = await seedCompletion(service.client(), upstream, { created: created++, model: 'gpt-4o', metadata: { env: value }, messages: [{ role: 'user', content: name }] });
    }
  });

  const chip = (page: Page, name: keyof typeof VALUES) => page.locator(`li.row[data-id="${ids[name]}"] .chips button`);

  it('quotes a value with a space at an edge on the cards and its filter chip; the value itself is what filters', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, [ids.empty, ids.quoted, ids.plain, ids.trailing, ids.leading]);
    const shown = async (name: keyof typeof VALUES) => [await chip(page, name).textContent(), await chip(page, name).getAttribute('aria-label')];
    expect(await shown('leading')).toEqual(['env: " prod"', 'Filter on env: " prod"']);
    expect(await shown('trailing')).toEqual(['env: "prod "', 'Filter on env: "prod "']);
    expect(await shown('plain')).toEqual(['env: prod', 'Filter on env: prod']);
    // A value quoted itself is told from one quoted here; an empty one reads "" (as its filter chip did).
    expect(await shown('quoted')).toEqual(['env: "\\"prod\\""', 'Filter on env: "\\"prod\\""']);
    expect(await shown('empty')).toEqual(['env: ""', 'Filter on env: ""']);

    // The chip filters on the value as stored, space and all: that completion alone.
    await chip(page, 'leading').click();
    await expectRows(page, [ids.leading]);
    const filter = page.locator('.filter-chip > span');
    expect(await filter.textContent()).toBe('env = " prod"');
    expect(await page.getByRole('button', { name: 'Remove filter env = " prod"' }).count()).toBe(1);
    await page.goto(`${suite.service.origin}/#/?metadata[env]=prod`);
    await expectRows(page, [ids.plain]);
    expect(await filter.textContent()).toBe('env = prod');
  });

  it('shows the edges in the conversation and its editor, and fills the field with the value as stored', async () => {
    const page = await openConversation(suite, ids.trailing);
    expect(await page.getByRole('list', { name: 'Metadata' }).locator('a.chip').textContent()).toBe('env: "prod "');
    await page.getByRole('button', { name: 'Edit metadata' }).click();
    const editor = page.getByRole('form', { name: 'Edit metadata' });
    expect(await editor.locator('.pair-value').textContent()).toBe('"prod "');
    await editor.getByRole('button', { name: 'Change env' }).click();
    expect(await editor.getByRole('combobox', { name: 'Value', exact: true }).inputValue()).toBe('prod ');
  });
});
