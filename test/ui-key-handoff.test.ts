import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { DEFAULT_KEY } from './helpers/service.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

// Pass-through mode: any key is its own project, so two keys are two projects.
const KEY_A = DEFAULT_KEY;
const KEY_B = 'sk-test-key-0002';

type Shown = { signedInAs: string | null; signInMessage: string | null };

/** What a tab shows now: the sign-in form (and its message), or the key it is signed in with. */
async function shown(page: Page): Promise<Shown> {
  if (await page.getByRole('button', { name: 'Sign out' }).isVisible()) return { signedInAs: await page.locator('#signed-in').textContent(), signInMessage: null };
  const message = page.locator('form.sign-in .error');
  return { signedInAs: null, signInMessage: (await message.isVisible()) ? await message.textContent() : null };
}

/**
 * Expects the tab to settle on `expected`. Polled first: a key handed over is checked with the service before the tab
 * signs in, which a busy machine can take well past any fixed wait. Then held past the quarter of a second the open tabs
 * are listened to: the form is drawn at once, so only a form still there after it is one no tab's key replaced.
 */
async function expectSettled(page: Page, expected: Shown): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).or(page.getByRole('button', { name: 'Sign in' })).first().waitFor();
  await expect.poll(() => shown(page)).toEqual(expected);
  await page.waitForTimeout(700);
  expect(await shown(page)).toEqual(expected);
}

function storedKeyOf(page: Page): Promise<unknown> {
  return page.evaluate("sessionStorage.getItem('stored-completions:api-key')");
}

describe.skipIf(!browserAvailable)('web UI: a new tab takes the key of the tabs already signed in', () => {
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(KEY_A), upstream, { created: 1_760_000_000, model: 'gpt-4o', messages: [{ role: 'user', content: 'Opened in a new tab' }] });
  });

  /** Another tab of the same browser profile as `page`, opened on `hash`. */
  async function openBeside(page: Page, hash = ''): Promise<Page> {
    const tab = await page.context().newPage();
    await tab.goto(`${suite.service.origin}/${hash}`);
    return tab;
  }

  it('opens a conversation in a new tab signed in, when another tab of the service is (a middle-click on a card)', async () => {
    const first = await suite.open();
    await signIn(first, KEY_A);
    const second = await openBeside(first, `#/completions/${id}`);
    await expectSettled(second, { signedInAs: 'Key …0001', signInMessage: null });
    await second.getByRole('heading', { name: id }).waitFor();
    expect(await storedKeyOf(second)).toBe(KEY_A);
  });

  it("puts the focus on the list's heading, as signing in by typing the key does", async () => {
    const first = await suite.open();
    await signIn(first, KEY_A);
    const second = await openBeside(first);
    await expectSettled(second, { signedInAs: 'Key …0001', signInMessage: null });
    expect(await second.evaluate('[document.activeElement.tagName, document.activeElement.textContent]')).toEqual(['H1', 'Completions']);
  });

  it('keeps a tab that signed out signed out when reloaded, though another tab is still signed in', async () => {
    const first = await suite.open();
    await signIn(first, KEY_A);
    const second = await openBeside(first);
    await expectSettled(second, { signedInAs: 'Key …0001', signInMessage: null });
    await first.getByRole('button', { name: 'Sign out' }).click();
    await first.reload();
    await expectSettled(first, { signedInAs: null, signInMessage: null });
    // Signed in again by hand, it hands its key on as before.
    await signIn(first, KEY_A);
    await first.reload();
    await expectSettled(first, { signedInAs: 'Key …0001', signInMessage: null });
  });

  it('asks for the key when no tab is signed in, or the one that was has signed out', async () => {
    const first = await suite.open();
    await expectSettled(first, { signedInAs: null, signInMessage: null });
    await signIn(first, KEY_A);
    await first.getByRole('button', { name: 'Sign out' }).click();
    const second = await openBeside(first);
    await expectSettled(second, { signedInAs: null, signInMessage: null });
    expect(await storedKeyOf(second)).toBeNull();
  });

  it('asks, saying why, when the open tabs are signed in with different keys (two projects)', async () => {
    const first = await suite.open();
    await signIn(first, KEY_A);
    const second = await openBeside(first);
    await expectSettled(second, { signedInAs: 'Key …0001', signInMessage: null });
    await second.getByRole('button', { name: 'Sign out' }).click();
    await signIn(second, KEY_B);
    const third = await openBeside(first, `#/completions/${id}`);
    await expectSettled(third, {
      signedInAs: null,
      signInMessage: 'Other tabs of this service are signed in with different keys: sign in with the one to use in this tab.',
    });
    expect(await storedKeyOf(third)).toBeNull();
  });

  it('never hands the key to another browser profile (a tab of another context stays signed out)', async () => {
    const first = await suite.open();
    await signIn(first, KEY_A);
    const stranger = await suite.open();
    await expectSettled(stranger, { signedInAs: null, signInMessage: null });
  });
});
