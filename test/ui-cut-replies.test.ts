import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_000_000;

/** What the page draws before an element (`::before`): a compact line's note before its reply. */
function before(page: Page, id: string): Promise<string> {
  return page.locator(`li.row[data-id="${id}"] .reply-preview`).evaluate(
    (element) => (globalThis as unknown as { getComputedStyle(e: unknown, pseudo: string): { content: string } }).getComputedStyle(element, '::before').content,
  );
}

/** The colour of a card's finish reason, and of the page's danger colour, as the browser computes them. */
function colours(page: Page, id: string, selector = `li.row[data-id="${id}"] .finish`): Promise<{ finish: string; danger: string; muted: string }> {
  return page.locator(selector).evaluate((element) => {
    const css = (e: unknown) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e);
    const doc = (globalThis as unknown as { document: { createElement(t: string): { style: Record<string, string> }; body: { append(e: unknown): void } } }).document;
    const probe = (variable: string) => {
      const span = doc.createElement('span');
      span.style.color = `var(${variable})`;
      doc.body.append(span);
      return css(span).color;
    };
    return { finish: css(element).color, danger: probe('--danger'), muted: probe('--muted') };
  });
}

describe.skipIf(!browserAvailable)('web UI: a reply cut off or filtered stands out in the list', () => {
  const ids: Record<string, string> = {};
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    const seed = (created: number, replies: { content: string | null; finish_reason?: string }[]) =>
      seedCompletion(client, upstream, { created, model: 'gpt-4o', messages: [{ role: 'user', content: `Question ${created}` }], replies });
    ids.stop = await seed(BASE, [{ content: 'A whole answer.' }]);
    ids.length = await seed(BASE + 1, [{ content: 'An answer that stops in the mid', finish_reason: 'length' }]);
    ids.filtered = await seed(BASE + 2, [{ content: null, finish_reason: 'content_filter' }]);
    ids.two = await seed(BASE + 3, [{ content: 'One whole.' }, { content: 'One cut', finish_reason: 'length' }]);
  });

  it('draws a card\'s "length" or "content_filter" in the danger colour, "stop" muted', async () => {
    const page = await suite.open();
    await signIn(page);
    await expectRows(page, [ids.two!, ids.filtered!, ids.length!, ids.stop!]);
    for (const [id, reason] of [[ids.stop, 'stop'], [ids.length, 'length'], [ids.filtered, 'content_filter'], [ids.two, 'stop, length']] as const) {
      expect(await page.locator(`li.row[data-id="${id}"] .finish`).innerText()).toBe(reason);
    }
    const stop = await colours(page, ids.stop!);
    expect(stop.finish).toBe(stop.muted);
    for (const id of [ids.length!, ids.filtered!, ids.two!]) {
      const seen = await colours(page, id);
      expect(seen.finish).toBe(seen.danger);
    }
  });

  it('says it before the reply of a compact line, where the card\'s finish reason has no room', async () => {
    const page = await suite.open();
    await signIn(page);
    await page.getByRole('button', { name: 'Compact' }).click();
    await expectRows(page, [ids.two!, ids.filtered!, ids.length!, ids.stop!]);
    expect(await before(page, ids.stop!)).toBe('none');
    expect(await before(page, ids.length!)).toBe('"cut off (length) ·"');
    expect(await before(page, ids.filtered!)).toBe('"filtered (content_filter) ·"');
    expect(await before(page, ids.two!)).toBe('"2 choices · cut off (length) ·"');
  });

  it("shows a compact line's model, tokens and cut reply on a phone, where its reply has no room", async () => {
    const page = await suite.open();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await page.getByRole('button', { name: 'Compact' }).click();
    await expectRows(page, [ids.two!, ids.filtered!, ids.length!, ids.stop!]);
    const line = (id: string) => page.locator(`li.row[data-id="${id}"]`);
    /** What a line shows under what the user said, left to right, as the reader sees it. */
    const lastRow = async (id: string) => {
      const user = await line(id).locator('.user-preview').boundingBox();
      const shown: [number, string][] = [];
      for (const part of await line(id).locator('.model, .tokens, .finish').all()) {
        const box = await part.boundingBox();
        if (box && (await part.isVisible())) {
          expect(box.y, 'under the user message').toBeGreaterThanOrEqual(user!.y + user!.height - 1);
          shown.push([box.x, await part.innerText()]);
        }
      }
      return shown.sort((a, b) => a[0] - b[0]).map(([, text]) => text);
    };
    expect(await lastRow(ids.stop!)).toEqual(['gpt-4o', '20 tokens']);
    expect(await lastRow(ids.length!)).toEqual(['gpt-4o', 'length', '20 tokens']);
    expect(await lastRow(ids.filtered!)).toEqual(['gpt-4o', 'content_filter', '20 tokens']);
    expect(await lastRow(ids.two!)).toEqual(['gpt-4o', 'stop, length', '20 tokens']);
    const seen = await colours(page, ids.length!);
    expect(seen.finish).toBe(seen.danger);
    // Still a few lines high, and nothing scrolls sideways.
    expect(await line(ids.length!).evaluate((element) => element.getBoundingClientRect().height)).toBeLessThan(110);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(390);
  });

  it('draws "finish: length" in the danger colour in the conversation too, "finish: stop" as the text around it', async () => {
    const page = await suite.open(`#/completions/${ids.length}`);
    await signIn(page);
    const finish = page.locator('.facts .finish');
    expect(await finish.innerText()).toBe('finish: length');
    const cut = await colours(page, ids.length!, '.facts .finish');
    expect(cut.finish).toBe(cut.danger);
    await page.goto(`${suite.service.origin}/#/completions/${ids.stop}`);
    await finish.filter({ hasText: 'finish: stop' }).waitFor();
    const stop = await colours(page, ids.stop!, '.facts .finish');
    expect(stop.finish).not.toBe(stop.danger);
    expect(stop.finish).toBe(await page.locator('.facts').evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color));
  });
});
