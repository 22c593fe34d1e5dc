import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, textBoxOf, useUiSuite } from './helpers/ui-page.ts';

const QUESTION = 'שלום, מה שלומך היום?';
const ANSWER = 'אני בסדר, תודה! ואתה?';

/** The box of `needle` under `selector`, which must be there. */
async function boxOf(page: Page, selector: string, needle: string): Promise<{ left: number; right: number }> {
  const box = await textBoxOf(page, selector, needle);
  expect(box, `${needle} under ${selector}`).not.toBeNull();
  return box!;
}

describe.skipIf(!browserAvailable)('web UI: messages written right to left', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Answer in the language of the question.\nענה בשפת השאלה.' },
        { role: 'user', content: QUESTION },
      ],
      replies: [{ content: `${ANSWER}\n\n\`\`\`js\nconst x = 1;\n\`\`\`` }],
    });
  });

  it('reads a Hebrew message right to left, its "?" at its end, each paragraph in its own direction, code left to right', async () => {
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    const user = '.message.role-user .text';
    const card = (await page.locator('.message.role-user').boundingBox())!;
    // Laid out left to right, the question mark of a Hebrew question stood at its right, before its first word.
    const mark = await boxOf(page, user, '?');
    const first = await boxOf(page, user, 'שלום');
    expect(mark.right).toBeLessThanOrEqual(first.left);
    // ...and the line started at the card's left edge instead of its right.
    expect(card.x + card.width - first.right).toBeLessThan(40);
    // A system message in English then Hebrew: the English line at the left, the Hebrew one at the right.
    const system = '.message.role-system .text';
    const english = await boxOf(page, system, 'Answer');
    const hebrew = await boxOf(page, system, 'ענה');
    expect(hebrew.right).toBeGreaterThan(english.right + 200);
    // The reply's code block stays left to right.
    expect(await page.evaluate('getComputedStyle(document.querySelector(".fenced-code")).direction')).toBe('ltr');
    // The list's previews too: the question reads from the right of its own box.
    await page.goto(`${suite.service.origin}/#/`);
    const preview = `li.row[data-id="${id}"] .preview-text`;
    await expect.poll(() => page.locator(preview).first().textContent()).toBe(QUESTION);
    const previewMark = await boxOf(page, preview, '?');
    expect(previewMark.right).toBeLessThanOrEqual((await boxOf(page, preview, 'שלום')).left);
  });
});
