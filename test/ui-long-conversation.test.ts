import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_000_000;
/** The one folded message a search finds: a word in a spaced script with an accent, and one inside a Japanese run. */
const ABOUT = 'about the lighthouse by Café Nord, 灯台の近く';

/** System, six turns, a tool round, three turns and the last question: 22 messages, 21 cards (the result under its call). */
function longConversation() {
  const turns = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => [
      { role: 'user' as const, content: from + i === 2 ? `Question 2, ${ABOUT}` : `Question ${from + i}` },
      { role: 'assistant' as const, content: `Answer ${from + i}` },
    ]).flat();
  return [
    { role: 'system' as const, content: 'Rules: answer briefly.' },
    ...turns(1, 6),
    { role: 'assistant' as const, content: null, tool_calls: [{ id: 'call_mid', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool' as const, tool_call_id: 'call_mid', content: '{"temp_c":14}' },
    ...turns(7, 9),
    { role: 'user' as const, content: 'Question 10' },
  ];
}

/** Each input message card in sight (the reply left out), top to bottom, as its role and first line (a folded card is not in sight). */
async function cardsInSight(page: Page): Promise<string[]> {
  const cards = page.locator('.conversation > article.message, .conversation > details > article.message');
  const seen: string[] = [];
  for (const card of await cards.all()) {
    if (!(await card.isVisible())) continue;
    const [role, first] = (await card.innerText()).split('\n').filter((line) => line.trim() !== '');
    // The reply's card (after the "Reply" heading) says its finish reason: not an input message.
    if (!role!.includes('finish reason')) seen.push(`${role}: ${first}`);
  }
  return seen;
}

const TAIL = ['Assistant: Answer 8', 'User: Question 9', 'Assistant: Answer 9', 'User: Question 10'];
const FOLDED = [
  ...Array.from({ length: 6 }, (_, i) => [`User: Question ${i + 1}${i === 1 ? `, ${ABOUT}` : ''}`, `Assistant: Answer ${i + 1}`]).flat(),
  'Assistant: TOOL CALLget_weather call_mid',
  'User: Question 7',
  'Assistant: Answer 7',
  'User: Question 8',
];

describe.skipIf(!browserAvailable)('web UI: a long conversation folds its earlier messages', () => {
  const ids: Record<string, string> = {};
  const suite = useUiSuite(async ({ service, upstream }) => {
    const client = service.client();
    ids.long = await seedCompletion(client, upstream, {
      created: BASE,
      model: 'gpt-4o',
      messages: longConversation(),
      replies: [{ content: 'The final answer.' }],
    });
    ids.short = await seedCompletion(client, upstream, {
      created: BASE + 1,
      model: 'gpt-4o',
      messages: longConversation().slice(0, 7),
      replies: [{ content: 'A short one.' }],
    });
  });

  it('shows the instructions, "Show 17 earlier messages" and the last four cards, the reply on the first screen', async () => {
    const page = await suite.open(`#/completions/${ids.long}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Input messages (22)' }).waitFor();
    const fold = page.locator('.conversation > details.earlier-messages > summary');
    expect(await fold.innerText()).toBe('Show 17 earlier messages');
    expect(await cardsInSight(page)).toEqual(['System: Rules: answer briefly.', ...TAIL]);
    // What is being judged is in sight without scrolling (it was four screens down).
    const reply = await page.getByRole('heading', { name: 'Reply', exact: true }).boundingBox();
    expect(reply!.y + reply!.height).toBeLessThan(900);

    // Opened, every card in its place, the tool's result still under its call.
    await fold.click();
    // The label follows the details' "toggle" event, which the browser fires a moment after the click.
    await expect.poll(() => fold.innerText()).toBe('Hide 17 earlier messages');
    expect(await cardsInSight(page)).toEqual(['System: Rules: answer briefly.', ...FOLDED, ...TAIL]);
    expect(await page.locator('article.message', { hasText: 'call_mid' }).innerText()).toContain('"temp_c": 14');

    // Markdown off and on redraws the messages: what the reader opened stays open.
    await page.getByRole('checkbox', { name: 'Markdown' }).uncheck();
    expect(await cardsInSight(page)).toEqual(['System: Rules: answer briefly.', ...FOLDED, ...TAIL]);
    await page.getByRole('checkbox', { name: 'Markdown' }).check();

    await fold.click();
    await expect.poll(() => fold.innerText()).toBe('Show 17 earlier messages');
    expect(await cardsInSight(page)).toEqual(['System: Rules: answer briefly.', ...TAIL]);
  });

  it('leaves a short conversation whole: a fold of two cards would save no scroll', async () => {
    const page = await suite.open(`#/completions/${ids.short}`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Input messages (7)' }).waitFor();
    expect(await page.locator('details.earlier-messages').count()).toBe(0);
    expect(await cardsInSight(page)).toEqual([
      'System: Rules: answer briefly.',
      ...FOLDED.slice(0, 6),
    ]);
  });

  it('opens the fold at once when read within a search whose words are in it, and only then', async () => {
    const page = await suite.open(`#/completions/${ids.long}?search=LIGHTHOUSE&order=desc`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Input messages (22)' }).waitFor();
    const fold = page.locator('.conversation > details.earlier-messages > summary');
    expect(await fold.innerText()).toBe('Hide 17 earlier messages');
    expect(await cardsInSight(page)).toEqual(['System: Rules: answer briefly.', ...FOLDED, ...TAIL]);

    // As the service finds them: without the accent, and a word inside a run of Japanese (no spaces to cut at).
    for (const search of ['cafe', '灯台']) {
      await page.goto(`${suite.service.origin}/#/completions/${ids.long}?search=${encodeURIComponent(search)}&order=desc`);
      await page.getByRole('heading', { name: 'Input messages (22)' }).waitFor();
      expect(await fold.innerText()).toBe('Hide 17 earlier messages');
    }

    // Words only in the instructions, the last cards or the reply: in sight already, the fold stays shut.
    for (const search of ['rules', 'final', '9']) {
      await page.goto(`${suite.service.origin}/#/completions/${ids.long}?search=${encodeURIComponent(search)}&order=desc`);
      await page.getByRole('heading', { name: 'Input messages (22)' }).waitFor();
      expect(await fold.innerText()).toBe('Show 17 earlier messages');
    }
  });
});
