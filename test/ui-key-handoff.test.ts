import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/**
 * A conversation opened in a new tab of the same browser takes the key of the tabs already signed in, when they
 * hold one key; never when they hold two (a link from one project's list opened under another's key).
 */
describe.skipIf(!browserAvailable)('web UI: a new tab signed in by the others', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Opened in a tab of its own' }],
      replies: [{ content: 'Here I am.' }],
    });
  });

  it('opens a conversation in a new tab without asking for the key again, and asks when the tabs hold different keys', async () => {
    const first = await suite.open();
    await signIn(first);
    const context = first.context();
    const second = await context.newPage();
    await second.goto(`${suite.service.origin}/#/completions/${id}`);
    await second.getByRole('heading', { name: id, level: 1 }).waitFor();
    expect(await second.locator('article.message').first().innerText()).toContain('Opened in a tab of its own');
    expect(await second.locator('#signed-in').textContent()).toBe(`Key …${DEFAULT_KEY.slice(-4)}`);

    // Signed out there, it stays signed out (no tab hands it a key behind the user's back), and the first keeps its key.
    await second.getByRole('button', { name: 'Sign out' }).click();
    await second.getByRole('textbox', { name: 'API key' }).waitFor();
    await second.waitForTimeout(400);
    expect(await second.getByRole('textbox', { name: 'API key' }).isVisible()).toBe(true);
    expect(await first.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);

    // Another project's key in the second tab: a third tab cannot tell which is meant, and asks.
    await signIn(second, 'sk-other-project-0002');
    const third = await context.newPage();
    await third.goto(`${suite.service.origin}/#/completions/${id}`);
    await third.getByRole('textbox', { name: 'API key' }).waitFor();
    await third.waitForTimeout(400);
    expect(await third.getByRole('textbox', { name: 'API key' }).isVisible()).toBe(true);
    expect(await third.evaluate('sessionStorage.length')).toBe(0);
  });
});
