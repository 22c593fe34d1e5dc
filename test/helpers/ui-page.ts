import type { Browser, BrowserContext, Dialog, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { launchBrowser, waitForIdle } from './browser.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import { DEFAULT_KEY, type Service, startService } from './service.ts';

const VIEWPORT = { width: 1280, height: 900 };

/** A tab in a new context (its own storage), in UTC so date fields read the same everywhere; on about:blank. */
async function newTab(browser: Browser): Promise<Tab> {
  const context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-US', viewport: VIEWPORT });
  // Short waits: a missing control fails at its own line, well inside the test's timeout.
  context.setDefaultTimeout(8_000);
  return { context, page: await context.newPage() };
}

export async function signIn(page: Page, key = DEFAULT_KEY): Promise<void> {
  await page.getByRole('textbox', { name: 'API key' }).fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** The completion ids the list shows, in order (each row's link is named by its id). */
export function rowIds(page: Page): Promise<string[]> {
  return page.locator('ol.rows a.row-link').allTextContents();
}

/** Polls until the list shows exactly `expected`, in order. */
export async function expectRows(page: Page, expected: string[]): Promise<void> {
  await expect.poll(() => rowIds(page), { timeout: 8_000 }).toEqual(expected);
}

/** Clicks "Load more" until the list says it is complete. */
export async function loadAll(page: Page): Promise<void> {
  const more = page.getByRole('button', { name: 'Load more' });
  for (;;) {
    await expect.poll(() => page.locator('.list-view[aria-busy=true]').count()).toBe(0);
    if (!(await more.isVisible())) return;
    await more.click();
  }
}

/** Every id the API lists for a query string (without `after`/`limit`), following the cursor: what the UI must show. */
export async function apiIds(service: Service, query: string, key = DEFAULT_KEY): Promise<string[]> {
  const ids: string[] = [];
  let after = '';
  for (;;) {
    const res = await service.request(`/v1/chat/completions?limit=100${query ? `&${query}` : ''}${after ? `&after=${after}` : ''}`, { key });
    const page = (await res.json()) as { data: { id: string }[]; has_more: boolean };
    expect(res.status, JSON.stringify(page)).toBe(200);
    ids.push(...page.data.map((c) => c.id));
    if (!page.has_more) return ids;
    after = page.data.at(-1)!.id;
  }
}

/** `datetime-local` text for Unix seconds, in UTC (the test tabs' time zone). */
export function utcInput(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19);
}

export interface UiSuite {
  readonly service: Service;
  readonly upstream: FakeUpstream;
  /** A fresh tab on the UI at `hash`, signed out, with nothing of an earlier test's; given back after the test. */
  open(hash?: string): Promise<Page>;
}

/**
 * Launching a browser, starting a service and seeding it (dozens of completions through the fake provider, one
 * request each) is a second or two alone, but tens of seconds on a machine running many files at once: past the
 * 30 s hook timeout, which then fails every test of the file. Slow work, not a wait for something that may never come.
 */
const SUITE_SETUP_TIMEOUT_MS = 120_000;

/** A tab with the browser context (cookies, storage, HTTP cache) that is its alone. */
interface Tab {
  context: BrowserContext;
  page: Page;
}

/**
 * What a tab must show to be given to another test: still the one page of its context, on this service's UI, its
 * timers the browser's own (a test that installed `page.clock` leaves fake ones in the context for good).
 */
async function reusable({ context, page }: Tab, origin: string): Promise<boolean> {
  if (page.isClosed() || context.pages().length !== 1 || new URL(page.url()).origin !== origin) return false;
  try {
    return (await page.evaluate('String(Date).includes("[native code]") && String(setTimeout).includes("[native code]")')) === true;
  } catch {
    return false;
  }
}

/**
 * Takes a tab back to what a new one shows: nothing stored, no route or listener of the last test, the viewport and
 * media of a new context, no permission granted; then parks it on the UI's icon, a document that runs nothing, so
 * that the last test's page stops its timers and requests.
 */
async function park({ context, page }: Tab): Promise<void> {
  const icon = await page.evaluate(`(() => {
    sessionStorage.clear();
    localStorage.clear();
    return document.querySelector('link[rel=icon]')?.href ?? null;
  })()`);
  if (typeof icon !== 'string') throw new Error('not on the UI page');
  await Promise.all([page.removeAllListeners(), page.unrouteAll({ behavior: 'wait' }), context.unrouteAll({ behavior: 'wait' }), context.clearPermissions()]);
  await page.setViewportSize(VIEWPORT);
  await page.emulateMedia({ media: null, colorScheme: 'light', reducedMotion: 'no-preference', forcedColors: 'none', contrast: 'no-preference' });
  // An editor left open asks before the page is left (beforeunload): leaving is the answer here.
  const leave = (dialog: Dialog) => void dialog.accept();
  page.on('dialog', leave);
  await page.goto(icon);
  page.off('dialog', leave);
}

/**
 * One browser, one fake provider and one service for a whole test file (browsers are slow to start),
 * seeded once by `seed`; each test opens its own tabs, each in a context of its own. A new context and tab cost
 * Chromium about 1.8 s of CPU (a renderer process started, then another for the page's site), most of a short
 * test and the larger part of CI's browser time; so a tab that ends its test cleanly is parked (`park`) and handed
 * to the next test that opens one, where loading the page in the renderer it already has costs about a tenth.
 */
export function useUiSuite(seed: (suite: UiSuite) => Promise<void>, env?: Record<string, string>): UiSuite {
  let browser: Browser | undefined;
  let service: Service | undefined;
  let upstream: FakeUpstream | undefined;
  const inUse: Tab[] = [];
  const parked: Tab[] = [];
  const suite: UiSuite = {
    get service() {
      return service!;
    },
    get upstream() {
      return upstream!;
    },
    async open(hash = '') {
      const tab = parked.pop() ?? (await newTab(browser!));
      inUse.push(tab);
      await tab.page.goto(`${service!.origin}/${hash}`);
      return tab.page;
    },
  };
  beforeAll(async () => {
    [browser, upstream] = await Promise.all([launchBrowser(), startFakeUpstream()]);
    service = await startService({ upstreamUrl: upstream.url, ...(env ? { env } : {}) });
    await seed(suite);
  }, SUITE_SETUP_TIMEOUT_MS);
  afterEach(async ({ task }) => {
    const passed = task.result?.state === 'pass';
    await Promise.all(
      inUse.splice(0).map(async (tab) => {
        // A failed test's tab may be in any state: closed, as a new context would be.
        if (passed && (await reusable(tab, service!.origin))) {
          try {
            await park(tab);
            parked.push(tab);
            return;
          } catch {
            // Not parked: closed below.
          }
        }
        await tab.context.close();
      }),
    );
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await upstream?.close();
  });
  return suite;
}

/**
 * The controls on the page that a screen reader could not name: every visible button, link, field and
 * select needs a label, text or aria-label. Evaluated in the page (a string: no DOM types here).
 */
export function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('button, a[href], input, select, textarea, [role=img]')]
    .filter((el) => el.getClientRects().length > 0)
    .filter((el) => {
      const labelled = (el.labels && [...el.labels].some((l) => l.textContent.trim()))
        || (el.getAttribute('aria-label') || '').trim()
        || (el.getAttribute('aria-labelledby') && document.getElementById(el.getAttribute('aria-labelledby'))?.textContent.trim());
      const text = ['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim();
      return !(labelled || text);
    })
    .map((el) => el.outerHTML.slice(0, 120))`);
}

/**
 * The box, in CSS pixels, of the first occurrence of `needle` in the text under `selector` (the needle lies within one
 * text node): where the reader sees it, whatever the DOM order. Null when it is not there.
 */
export function textBoxOf(page: Page, selector: string, needle: string): Promise<{ left: number; right: number } | null> {
  return page.evaluate(`(() => {
    const root = document.querySelector(${JSON.stringify(selector)});
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.data.indexOf(${JSON.stringify(needle)});
      if (at === -1) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + ${needle.length});
      const { left, right } = range.getBoundingClientRect();
      return { left, right };
    }
    return null;
  })()`);
}

/** A tab signed in on the conversation of `id`, its cards drawn and the page idle. */
export async function openConversation(suite: UiSuite, id: string): Promise<Page> {
  const page = await suite.open();
  await signIn(page);
  await page.goto(`${suite.service.origin}/#/completions/${id}`);
  await page.locator('article.message').first().waitFor();
  await waitForIdle(page);
  return page;
}

/** A tab signed in on the list of one seeded group (`seedGroups`), its first page (20, newest first) shown. */
export async function openGroup(suite: UiSuite, group: string, newestFirst: string[]): Promise<Page> {
  const page = await suite.open(`#/?metadata[group]=${group}`);
  await signIn(page);
  await expectRows(page, newestFirst.slice(0, 20));
  return page;
}

/** WCAG's contrast ratio of two computed `rgb(r, g, b)` colours. */
export function contrastRatio(a: string, b: string): number {
  const luminance = (rgb: string) => {
    const [r, g, bl] = rgb.match(/[\d.]+/g)!.slice(0, 3).map((c) => {
      const v = Number(c) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (high + 0.05) / (low + 0.05);
}
