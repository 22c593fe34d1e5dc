import { describe, expect, it } from 'vitest';
import { toCompletionRecord } from '../src/wire.ts';
import { browserAvailable } from './helpers/browser.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

const KEY = 'sk-ui-many-models-0001';
const PROJECT = 'many-models';
/** A project whose one model has a name as long as an AWS Bedrock inference profile's ARN. */
const LONG_KEY = 'sk-ui-long-model-name-0001';
const LONG_PROJECT = 'long-model-name';
const LONG_MODEL = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0';
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
    await service.store.saveCompletions(LONG_PROJECT, [
      toCompletionRecord({
        request: { model: LONG_MODEL, messages: [{ role: 'user', content: 'hi' }] },
        response: { id: 'chatcmpl-long-model', created: 1_764_460_800, model: LONG_MODEL, choices: [], usage: { prompt_tokens: 1_234_567, completion_tokens: 7_654_321, total_tokens: 8_888_888 } },
        id: 'chatcmpl-long-model',
        requestId: 'req_long_model',
        metadata: {},
        now: 0,
      }),
    ]);
  }, { API_KEYS: `${KEY}:${PROJECT},${LONG_KEY}:${LONG_PROJECT}` });

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

  it('wraps a model name too long for the per-model table on a laptop, so its figures stay in sight rather than scrolled out', async () => {
    const page = await suite.open('#/?usage=1');
    await signIn(page, LONG_KEY);
    const table = page.getByRole('region', { name: 'Usage' }).getByRole('table', { name: 'Per model' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').first().locator('th, td').allTextContents()).toEqual([LONG_MODEL, '1', '1,234,567', '7,654,321', '8,888,888']);
    // At 1280 px the name took 960 px on one line and the token columns ran past the panel's edge (1,310 px wide in 1,118).
    const fits = await table.evaluate((element) => {
      const region = element.parentElement!;
      return { table: element.scrollWidth, region: region.clientWidth };
    });
    expect(fits.table).toBeLessThanOrEqual(fits.region);
  });
});
