/**
 * `npm run screenshots`: starts the service over a fresh database with the fake provider, seeds a month
 * of completions through the official client, and saves PNGs of the list, the usage panel and a
 * conversation (light and dark, laptop and phone) into docs/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { BROWSER_PATH, launchBrowser, waitForIdle } from '../test/helpers/browser.ts';
import { demoSpecs, seedCompletion, toolCallSpec } from '../test/helpers/seed.ts';
import { DEFAULT_KEY, startService } from '../test/helpers/service.ts';

const OUTPUT = join(import.meta.dirname, '..', 'docs', 'screenshots');

/** Three cards selected and "Add tag" open, filled in: the bulk actions as a curator sees them. */
async function selectAndTag(page: Page): Promise<void> {
  for (const box of (await page.getByRole('checkbox', { name: /^Select chatcmpl-/ }).all()).slice(0, 3)) await box.check();
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.getByRole('combobox', { name: 'Tag key' }).fill('dataset');
  await page.getByRole('combobox', { name: 'Tag value' }).fill('eval-v2');
}

/** A reasoning model's thinking opened, as a reader does when the reply puzzles them. */
async function openThinking(page: Page): Promise<void> {
  await page.locator('details.thinking summary').click();
}

/** The list a completion a line ("Compact"), as someone scanning a day of them reads it. */
async function compactRows(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Compact' }).click();
}

/** A reply as models format them: what the conversation view draws as markdown. */
const MARKDOWN_REPLY = [
  '## Paging with the official client',
  '',
  'The client pages **for you**: iterate the list with `for await`, and it follows `after` until `has_more` is false.',
  '',
  '```ts',
  "import OpenAI from 'openai';",
  '',
  "const client = new OpenAI({ baseURL: 'http://localhost:8080/v1' });",
  "for await (const completion of client.chat.completions.list({ metadata: { env: 'prod' } })) {",
  '  console.log(completion.id, completion.model);',
  '}',
  '```',
  '',
  'Useful filters:',
  '',
  '| parameter | example | what it keeps |',
  '|---|---|---|',
  '| `model` | `gpt-4o` | one model\'s completions |',
  '| `metadata[key]` | `metadata[env]=prod` | one tag\'s |',
  '| `order` | `asc` | oldest first |',
  '',
  '1. Each page is one index walk, however deep you go.',
  '2. A deleted completion\'s id still works as a cursor.',
  '',
  '> See the [API reference](https://platform.openai.com/docs/api-reference/chat/list) for every parameter.',
].join('\n');

const upstream = await startFakeUpstream();
const service = await startService({ upstreamUrl: upstream.url });
const browser = await launchBrowser();
try {
  const client = service.client();
  const now = Math.floor(Date.now() / 1000);
  for (const spec of demoSpecs(now - 3600)) await seedCompletion(client, upstream, spec);
  await seedCompletion(client, upstream, {
    created: now - 1500,
    model: 'gpt-4o',
    metadata: { env: 'prod', user: 'u_102', feature: 'naming' },
    messages: [{ role: 'user', content: 'Give me two taglines for a self-hosted completion log.' }],
    replies: [
      { content: 'Your prompts, your disk, your history.' },
      { content: 'Every completion, kept where you can read it.' },
    ],
    usage: { prompt_tokens: 21, completion_tokens: 30 },
  });
  const toolCall = await seedCompletion(client, upstream, toolCallSpec(now - 600, { env: 'prod', user: 'u_101', feature: 'travel' }));
  const markdown = await seedCompletion(client, upstream, {
    created: now - 300,
    model: 'gpt-4o',
    metadata: { env: 'prod', user: 'u_103', feature: 'docs' },
    messages: [{ role: 'user', content: 'How do I page through **every** stored completion with the Node client?' }],
    replies: [{ content: MARKDOWN_REPLY }],
    usage: { prompt_tokens: 19, completion_tokens: 164 },
  });

  // A reasoning model's answer, its thinking sent beside the reply (as DeepSeek's is), opened.
  const thinking = await seedCompletion(client, upstream, {
    created: now - 3590,
    model: 'deepseek-reasoner',
    metadata: { env: 'prod', user: 'u_104', feature: 'math' },
    messages: [{ role: 'user', content: 'Is 2,027 a prime number?' }],
    replies: [
      {
        content: 'Yes: **2,027 is prime**. No prime up to its square root (45.0…) divides it.',
        reasoning_content:
          'The square root of 2027 is about 45.02, so I need to check primes up to 43.\n\n2027 is odd, its digit sum is 11 (not divisible by 3), and it does not end in 0 or 5. 7 × 289 = 2023, remainder 4. 11 × 184 = 2024, remainder 3. 13 × 155 = 2015, remainder 12. 17 × 119 = 2023, remainder 4. 19 × 106 = 2014, remainder 13. 23 × 88 = 2024, remainder 3. 29 × 69 = 2001, remainder 26. 31 × 65 = 2015, remainder 12. 37 × 54 = 1998, remainder 29. 41 × 49 = 2009, remainder 18. 43 × 47 = 2021, remainder 6.\n\nNo divisor found: 2027 is prime.',
      },
    ],
    usage: { prompt_tokens: 14, completion_tokens: 412 },
  });

  mkdirSync(OUTPUT, { recursive: true });
  const shots: { name: string; hash: string; width: number; height: number; dark?: boolean; fullPage?: boolean; prepare?: (page: Page) => Promise<void> }[] = [
    { name: 'list', hash: '#/', width: 1280, height: 860 },
    { name: 'usage', hash: '#/?usage=1', width: 1280, height: 860 },
    { name: 'conversation', hash: `#/completions/${toolCall}`, width: 1280, height: 1000 },
    { name: 'conversation-dark', hash: `#/completions/${toolCall}`, width: 1280, height: 1000, dark: true },
    { name: 'conversation-markdown', hash: `#/completions/${markdown}`, width: 1280, height: 1000 },
    { name: 'conversation-thinking', hash: `#/completions/${thinking}`, width: 1280, height: 760, prepare: openThinking },
    { name: 'list-phone', hash: '#/?metadata[env]=prod', width: 390, height: 844 },
    { name: 'list-bulk', hash: '#/', width: 1280, height: 860, prepare: selectAndTag },
    { name: 'list-compact', hash: '#/', width: 1280, height: 860, prepare: compactRows },
    { name: 'list-compact-phone', hash: '#/', width: 390, height: 844, prepare: compactRows },
  ];
  for (const shot of shots) {
    const context = await browser.newContext({
      viewport: { width: shot.width, height: shot.height },
      colorScheme: shot.dark ? 'dark' : 'light',
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    await page.goto(`${service.origin}/`);
    await page.getByLabel('API key').fill(DEFAULT_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Completions' }).waitFor();
    await page.goto(`${service.origin}/${shot.hash}`);
    await waitForIdle(page);
    await shot.prepare?.(page);
    await page.waitForTimeout(400);
    const path = join(OUTPUT, `${shot.name}.png`);
    await page.screenshot({ path, fullPage: shot.fullPage ?? false });
    console.log(path);
    await context.close();
  }
} finally {
  await browser.close();
  await service.close();
  await upstream.close();
}
console.log(`browser: ${BROWSER_PATH}`);
