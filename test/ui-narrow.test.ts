import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable, waitForIdle } from './helpers/browser.ts';
import { demoSpecs, seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** A window between a phone's and a tablet's: where the layout changes, and where it was not looked at. */
const WIDTHS = [400, 480, 560];

const TABLE = ['Here is a table:', '', '| city | temp | condition | wind speed in km/h |', '|---|---|---|---|', '| Paris | 18 | light rain | 12 |'].join('\n');

async function middle(locator: Locator): Promise<number> {
  const box = (await locator.boundingBox())!;
  return box.y + box.height / 2;
}

/**
 * The page's width when nothing scrolls sideways, and every visible control inside the window (a block that scrolls
 * sideways on purpose, a wide table or code, keeps its own controls out of this: it has none).
 */
async function outside(page: Page): Promise<{ scrollWidth: number; controls: string[] }> {
  const width = page.viewportSize()!.width;
  return page.locator('body').evaluate((body, right) => ({
    scrollWidth: body.ownerDocument.documentElement.scrollWidth,
    controls: [...body.querySelectorAll('button, input, select, a[href], summary')]
      .filter((control) => !control.closest('.skip-link'))
      .map((control) => [control, control.getBoundingClientRect()] as const)
      .filter(([, box]) => box.width > 0 && (box.left < 0 || box.right > right))
      .map(([control, box]) => `${control.getAttribute('aria-label') || control.textContent} ${Math.round(box.left)}..${Math.round(box.right)}`),
  }), width);
}

/** Names at the API's 64-character limit, one word each: an MCP tool's, an author's. */
const TOOL_NAME = 'mcp__github__create_pull_request_review_comment_with_suggestion_';
const AUTHOR_NAME = 'customer_support_escalation_team_member_with_a_long_handle_00001';

describe.skipIf(!browserAvailable)('web UI: from 400 to 560 px wide', () => {
  let table = '';
  let named = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    for (const spec of demoSpecs(1_765_000_000, 6)) await seedCompletion(client, upstream, spec);
    table = await seedCompletion(client, upstream, {
      created: 1_765_100_000,
      model: 'gpt-4o',
      metadata: { env: 'prod', feature: 'weather' },
      messages: [{ role: 'user', content: 'The weather, as a table.' }],
      replies: [{ content: TABLE }],
    });
    named = await seedCompletion(client, upstream, {
      created: 1_765_100_001,
      model: 'gpt-4o',
      request: { tools: [{ type: 'function', function: { name: TOOL_NAME, parameters: { type: 'object', properties: {} } } }] },
      messages: [
        { role: 'user', name: AUTHOR_NAME, content: 'Comment on the pull request.' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_review', type: 'function', function: { name: TOOL_NAME, arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_review', content: '{"ok":true}' },
      ],
      replies: [{ content: 'Done.' }],
    });
  });

  for (const width of WIDTHS) {
    it(`at ${width} px the list, its filters, a selection's tag form and a conversation fit, and "Export" stays beside its format`, async () => {
      const page = await suite.open();
      await page.setViewportSize({ width, height: 800 });
      await signIn(page);
      await page.locator('ol.rows > li.row').nth(6).waitFor();
      const fits = { scrollWidth: width, controls: [] };
      // "Export" went alone to the next line at 560 px, away from the format it exports in.
      const format = page.getByRole('combobox', { name: 'Export format' });
      expect(Math.abs((await middle(format)) - (await middle(page.getByRole('button', { name: 'Export', exact: true }))))).toBeLessThan(2);
      expect(await outside(page)).toEqual(fits);

      await page.getByRole('button', { name: 'More filters' }).click();
      await page.getByRole('button', { name: 'Add metadata filter' }).waitFor();
      expect(await outside(page)).toEqual(fits);

      for (const box of (await page.getByRole('checkbox', { name: /^Select chatcmpl-/ }).all()).slice(0, 2)) await box.check();
      await page.getByRole('button', { name: 'Add tag' }).click();
      await page.getByRole('combobox', { name: 'Tag key' }).waitFor();
      expect(await outside(page)).toEqual(fits);

      await page.goto(`${suite.service.origin}/#/completions/${table}`);
      await page.getByRole('heading', { name: 'Reply', exact: true }).waitFor();
      await waitForIdle(page);
      expect(await outside(page)).toEqual(fits);
      // Each one-word cell on one line, the table scrolling sideways if it must: the message's own wrapping cut
      // "Paris" into "Pari" and "s" at 400 px, "condition" into "conditio" and "n".
      const cells = page.locator('.md-table').locator('th, td');
      expect(await cells.evaluateAll((all) => all.map((cell) => {
        const range = cell.ownerDocument.createRange();
        range.selectNodeContents(cell);
        return `${cell.textContent} ${[...new Set([...range.getClientRects()].map((line) => Math.round(line.top)))].length}`;
      }).filter((cell) => cell.split(' ').length === 2))).toEqual(['city 1', 'temp 1', 'condition 1', 'Paris 1', '18 1', '12 1']);

      await page.getByRole('button', { name: 'Edit metadata' }).click();
      await page.getByRole('button', { name: 'Add pair' }).waitFor();
      expect(await outside(page)).toEqual(fits);
    });
  }

  it('at 400 px a conversation whose tool and author have 64-character names fits: the names break', async () => {
    const page = await suite.open(`#/completions/${named}`);
    await page.setViewportSize({ width: 400, height: 800 });
    await signIn(page);
    await page.getByRole('heading', { name: 'Reply', exact: true }).waitFor();
    await waitForIdle(page);
    // Each name drawn whole, in the message's head, the call's head and the request's tools; they made the page 561 px wide.
    expect(await page.locator('.message-head .muted').first().textContent()).toBe(` ${AUTHOR_NAME}`);
    expect(await page.locator('.tool-call-head code, .tool-list code').allTextContents()).toEqual([TOOL_NAME, TOOL_NAME]);
    expect(await outside(page)).toEqual({ scrollWidth: 400, controls: [] });
  });
});
