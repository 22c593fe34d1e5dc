import { BROWSER_PATH, browserAvailable } from './browser.ts';

/**
 * vitest globalSetup: runs once per `npm test`, so a machine without Chromium hears once that the
 * browser tests were skipped. CI sets REQUIRE_BROWSER=1, where a missing browser is a failure.
 */
export default function checkBrowser(): void {
  if (browserAvailable) return;
  if (process.env.REQUIRE_BROWSER === '1') {
    throw new Error(`REQUIRE_BROWSER=1 but there is no Chromium at ${BROWSER_PATH}: apt-get install -y chromium`);
  }
  console.warn(`Browser tests skipped: no Chromium at ${BROWSER_PATH} (apt-get install -y chromium to run them).`);
}
