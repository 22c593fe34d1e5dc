import { describe, expect, it } from 'vitest';
import { toCompletionRecord } from '../src/wire.ts';
import { browserAvailable } from './helpers/browser.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

const KEY = 'sk-ui-many-models-0001';
const PROJECT = 'many-models';
/**
 * Ten models, model n stored 10 + n times: the charts have eight colours. The largest is named as the
 * grouped series would be: it must stay apart from it.
 */
const MODELS = ['m-alpha', 'm-bravo', 'm-charlie', 'm-delta', 'm-echo', 'm-foxtrot', 'm-golf', 'm-hotel', 'm-india', '3 other models'];

/**
 * Past eight models, colours that repeated made two models one in the stacked charts: the seven with
 * the most completions keep a colour each, the rest share the last one as "N other models".
 */
describe.skipIf(!browserAvailable)('web UI: usage of more models than the charts have colours', () => {
  const suite = useUiSuite(async ({ service }) => {
    const records = MODELS.flatMap((model, n) =>
      Array.from({ length: 10 + n }, (_, i) => {
        const id = `chatcmpl-${n}-${i}`;
        return toCompletionRecord({
          request: { model, messages: [{ role: 'user', content: 'hi' }] },
          response: { id, created: 1_764_460_800 + i, model, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
          id,
          requestId: `req_${id}`,
          metadata: {},
          now: 0,
        });
      }),
    );
    await service.store.saveCompletions(PROJECT, records);
  }, { API_KEYS: `${KEY}:${PROJECT}` });

  it('gives the seven with the most completions a colour each and the other three one more, and still names all ten in the table', async () => {
    const page = await suite.open('#/?usage=1');
    await signIn(page, KEY);
    const panel = page.getByRole('region', { name: 'Usage' });
    await expect.poll(() => panel.getByRole('img').count()).toBe(2);
    const legend = await panel.locator('.legend li').evaluateAll((items) =>
      items.map((item) => [item.textContent, item.querySelector('.swatch')!.getAttribute('class')]),
    );
    expect(legend).toEqual([
      ['3 other models', 'swatch series-0'],
      ['m-delta', 'swatch series-1'],
      ['m-echo', 'swatch series-2'],
      ['m-foxtrot', 'swatch series-3'],
      ['m-golf', 'swatch series-4'],
      ['m-hotel', 'swatch series-5'],
      ['m-india', 'swatch series-6'],
      ['3 other models (2)', 'swatch series-7'],
    ]);
    // The one day's bar in the completions chart: a segment per series, alpha, bravo and charlie's 10 + 11 + 12 as one.
    const segments = await panel.getByRole('img').first().locator('rect').evaluateAll((rects) =>
      rects.map((rect) => [rect.getAttribute('class'), rect.querySelector('title')!.textContent!.replace(/[\u2066-\u2069]/g, '')]),
    );
    expect(segments).toEqual([
      ['series-0', '2025-11-30 · 3 other models: 19 completions'],
      ['series-1', '2025-11-30 · m-delta: 13 completions'],
      ['series-2', '2025-11-30 · m-echo: 14 completions'],
      ['series-3', '2025-11-30 · m-foxtrot: 15 completions'],
      ['series-4', '2025-11-30 · m-golf: 16 completions'],
      ['series-5', '2025-11-30 · m-hotel: 17 completions'],
      ['series-6', '2025-11-30 · m-india: 18 completions'],
      ['series-7', '2025-11-30 · 3 other models (2): 33 completions'],
    ]);
    expect(await panel.locator('table').first().locator('tbody th').allTextContents()).toEqual([...MODELS].sort());
  });
});
