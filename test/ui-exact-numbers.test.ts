import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** Past 2^53: a JSON.parse in the page reads it as 12345678901234567000. */
const ORDER_ID = '12345678901234567890';
/** The largest int64: the service stores and answers it as sent; rounded, it is past int64 and OpenAI refuses it. */
const SEED = '9223372036854775807';

describe.skipIf(!browserAvailable)('web UI: numbers shown as they were written', () => {
  let toolCallId = '';
  let seededId = '';
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
    // The Node client writes numbers as doubles: the seed goes out as a Python client would write it.
    const exact = new OpenAI({
      apiKey: DEFAULT_KEY,
      baseURL: `${service.origin}/v1`,
      maxRetries: 0,
      fetch: (url, init) => fetch(url, { ...init, body: String(init?.body).replace('"seed":9223372036854776000', `"seed":${SEED}`) }),
    });
    seededId = await seedCompletion(exact, upstream, {
      created: 1_760_000_100,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Same answer every time' }],
      request: { seed: Number(SEED) },
    });
  });

  it('an int64 seed is shown, and written into the raw JSON and the curl snippet, as stored', async () => {
    const stored = await (await suite.service.request(`/v1/chat/completions/${seededId}`)).text();
    expect(stored).toContain(`"seed":${SEED}`);
    const page = await suite.open(`#/completions/${seededId}`);
    await signIn(page);
    const seed = page.locator('aside dl dt', { hasText: 'Seed' }).locator('xpath=following-sibling::dd[1]');
    await expect.poll(() => seed.textContent()).toBe(SEED);
    await page.getByText('curl', { exact: true }).click();
    expect(await page.locator('.replay .code').first().textContent()).toContain(`"seed": ${SEED},`);
    await page.getByText('Raw JSON', { exact: true }).click();
    expect(await page.locator('details.raw .code').textContent()).toContain(`"seed": ${SEED},`);
  });

  it('the openai (Node) snippet writes an int64 seed as stored, and says the client would round it', async () => {
    const page = await suite.open(`#/completions/${seededId}`);
    await signIn(page);
    await page.getByText('openai (Node)', { exact: true }).click();
    const lines = (await page.locator('.replay details[open] .code').textContent())!.split('\n');
    expect(lines).toContain(`  "seed": ${SEED},`);
    // Node reads the literal as a double: the snippet says so, above the call, rather than rounding unseen.
    expect(lines.slice(3, 5)).toEqual([
      `// JavaScript rounds ${SEED} to 9223372036854776000 (a number holds no more digits): this client sends the rounded value; the curl command sends it as stored.`,
      'const completion = await client.chat.completions.create({',
    ]);
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
