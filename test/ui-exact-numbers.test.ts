import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** Past 2^53: a JSON.parse in the page reads it as 12345678901234567000. */
const ORDER_ID = '12345678901234567890';

describe.skipIf(!browserAvailable)('web UI: numbers shown as they were written', () => {
  let toolCallId = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    toolCallId = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'Where is my order?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_order', type: 'function', function: { name: 'find_order', arguments: `{"order_id":${ORDER_ID},"amount":1.50}` } }] },
        { role: 'tool', tool_call_id: 'call_order', content: `{"order_id":${ORDER_ID},"status":"shipped"}` },
      ],
      replies: [{ content: null, tool_calls: [{ id: 'call_refund', type: 'function', function: { name: 'refund', arguments: `{"order_id":${ORDER_ID}}` } }] }],
    });
  });

  it('tool call arguments and tool results keep their numbers when pretty-printed', async () => {
    const page = await suite.open(`#/completions/${toolCallId}`);
    await signIn(page);
    const blocks = page.locator('.tool-call .code');
    await expect.poll(() => blocks.count()).toBe(3);
    const texts = await blocks.allTextContents();
    expect(texts[0]).toBe(`{\n  "order_id": ${ORDER_ID},\n  "amount": 1.50\n}`);
    expect(texts[1]).toBe(`{\n  "order_id": ${ORDER_ID},\n  "status": "shipped"\n}`);
    expect(texts[2]).toBe(`{\n  "order_id": ${ORDER_ID}\n}`);
  });
});
