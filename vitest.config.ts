import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Says once when the browser tests cannot run (no Chromium), or fails the run under REQUIRE_BROWSER=1.
    globalSetup: ['test/helpers/browser-setup.ts'],
    // Every test builds its own app and database, so files run in parallel safely.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
