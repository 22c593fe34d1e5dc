import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); browsers cannot be downloaded by npm here. */
export const BROWSER_PATH = '/usr/bin/chromium';

export const browserAvailable = existsSync(BROWSER_PATH);

/** Flags that let the system Chromium run headless in a container, quietly: no sandbox, no GPU, no calls home. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

/**
 * One browser; playwright gives it a fresh temporary user-data-dir and removes it on close, and each
 * `newContext()` is a clean profile of its own (no sessionStorage shared between tests).
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: BROWSER_PATH, args: FLAGS, headless: true });
}

/** Waits until the page has no region marked busy (lists, usage, a conversation still loading). */
export async function waitForIdle(page: import('playwright-core').Page): Promise<void> {
  // A function, not a string: playwright evaluates a string predicate with eval, which the page's CSP
  // refuses. The project's TypeScript has no DOM types, hence the loose `globalThis`.
  const noneBusy = () => !(globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('[aria-busy=true]');
  await page.waitForFunction(noneBusy, null, { timeout: 10_000 });
}
