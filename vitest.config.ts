import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test builds its own app and database, so files run in parallel safely.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
