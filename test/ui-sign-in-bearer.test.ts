import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { expectRows, useUiSuite } from './helpers/ui-page.ts';

/** A key of API_KEYS: the service knows its keys, so a wrong one is refused (in pass-through mode any key is taken). */
const KEY = 'sk-bearer-paste-key-0001';

describe.skipIf(!browserAvailable)('web UI: a pasted Authorization value signs in with its key', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(KEY), upstream, { created: 1_764_849_600, model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  }, { API_KEYS: `${KEY}:bearer-project` });

  it('takes the key after "Bearer " (any case, spaces around it, the header\'s name and quotes pasted with it), while the API still refuses the scheme in the key', async () => {
    // The API is unchanged: the scheme sent twice is a wrong key.
    expect((await suite.service.request('/v1/chat/completions', { key: `Bearer ${KEY}` })).status).toBe(401);
    for (const typed of [`Bearer ${KEY}`, `  bEARER   ${KEY}  `, `"${KEY}"`, `'${KEY}'`, `"Authorization: Bearer ${KEY}"`, `authorization:Bearer ${KEY}`]) {
      const page = await suite.open();
      await page.getByRole('textbox', { name: 'API key' }).fill(typed);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await expectRows(page, [id]);
      expect(await page.locator('#signed-in').innerText()).toBe(`Key ${KEY.slice(0, 5)}…${KEY.slice(-4)}`);
      // What the page sends from now on is the key alone.
      const sent = page.waitForRequest((request) => request.url().includes('/v1/chat/completions'));
      await page.getByRole('button', { name: 'Refresh' }).click();
      expect((await sent).headers().authorization).toBe(`Bearer ${KEY}`);
      await page.close();
    }
  });
});
