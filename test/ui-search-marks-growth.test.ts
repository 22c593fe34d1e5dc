import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** 2,000 short paragraphs, each with the search word once, after a long one: 3,000 characters are drawn first, the rest by "Show more". */
const PARAGRAPHS = 2_000;
const OPENING = 200;
/** An opening paragraph longer than the first cut: cut in two at a space, its rest drawn by "Show more". */
const opening = 'the refund asked for '.repeat(OPENING).trim();
/** One paragraph of 20,000 matches, each a character: the first cut draws 1,500 of them. */
const ZEROS = Array.from({ length: 20_000 }, () => '0').join(' ');
const reply = [opening, ...Array.from({ length: PARAGRAPHS }, (_, i) => `Paragraph ${i} is about the refund, and more.`)].join('\n\n');

/**
 * "Show more" drew the whole text again and marked it again: with 100,000 marks, seconds a click. It now leaves what
 * was drawn in the page and marks only what it adds, the paragraph cut in two by the first cut grown in place.
 */
describe.skipIf(!browserAvailable)('web UI: "Show more" in a search marks only what it adds', () => {
  let id = '';
  let zeros = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Many paragraphs, please' }],
      replies: [{ content: reply }],
    });
    zeros = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Zeros, please' }],
      replies: [{ content: ZEROS }],
    });
  });

  it('grows one long paragraph of matches in place as markdown ("0 0 0 …" searched for "0")', async () => {
    const page = await suite.open(`#/completions/${zeros}?search=0&order=desc`);
    await signIn(page);
    const showMore = page.getByRole('button', { name: 'Show more' });
    await showMore.waitFor();
    const text = page.locator('article.message.role-assistant .long-text > div').first();
    const before = await text.evaluate((block: any) => {
      const marks: any[] = [...block.querySelectorAll('mark.match')];
      for (const mark of marks) mark.seen = true;
      return marks.length;
    });
    await showMore.click();
    await expect.poll(() => showMore.count()).toBe(0);
    const after = await text.evaluate((block: any) => {
      const marks: any[] = [...block.querySelectorAll('mark.match')];
      return { marks: marks.length, seen: marks.filter((mark) => mark.seen).length, paragraphs: block.querySelectorAll('p').length, text: block.textContent };
    });
    // The marks drawn first are the same elements: not drawn afresh.
    expect(after).toEqual({ marks: 20_000, seen: before, paragraphs: 1, text: ZEROS });
    expect(before).toBe(1_500);
  });

  for (const markdown of [true, false]) {
    it(`keeps the marks drawn before (${markdown ? 'markdown' : 'the characters as stored'})`, async () => {
      const page = await suite.open(`#/completions/${id}?search=refund&order=desc`);
      await signIn(page);
      const showMore = page.getByRole('button', { name: 'Show more' });
      await showMore.waitFor();
      if (!markdown) {
        await page.getByRole('checkbox', { name: 'Markdown' }).uncheck();
        await showMore.waitFor();
      }
      const text = page.locator('article.message.role-assistant .long-text > div').first();
      const before = await text.evaluate((block: any) => {
        const marks: any[] = [...block.querySelectorAll('mark.match')];
        // A property of the element itself: a mark made again would not have it.
        for (const mark of marks) mark.seen = true;
        return { marks: marks.length, text: block.textContent.length as number };
      });
      // The first cut falls inside a paragraph (at a space): its rest is drawn in place, its mark made once.
      expect(before.text).toBeLessThan(opening.length);
      await showMore.click();
      await expect.poll(() => showMore.count()).toBe(0);
      const after = await text.evaluate((block: any) => {
        const marks: any[] = [...block.querySelectorAll('mark.match')];
        const seen = marks.filter((mark) => mark.seen).length;
        return {
          marks: marks.length,
          seen,
          seenFirst: marks.slice(0, seen).every((mark) => mark.seen),
          words: [...new Set(marks.map((mark) => mark.textContent))],
          paragraphs: block.querySelectorAll('p').length,
          text: block.textContent,
        };
      });
      expect(after).toEqual({
        marks: OPENING + PARAGRAPHS,
        seen: before.marks,
        seenFirst: true,
        words: ['refund'],
        paragraphs: markdown ? 1 + PARAGRAPHS : 0,
        text: markdown ? reply.replaceAll('\n\n', '') : reply,
      });
      expect(before.marks).toBeGreaterThan(50);
      await expect.poll(() => page.getByRole('group', { name: 'Search matches' }).locator('.match-count').innerText()).toBe('2,200 matches of “refund”');
    });
  }
});
