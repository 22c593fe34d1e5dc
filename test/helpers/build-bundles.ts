import { ensureBuilt } from '../../scripts/build.mjs';

/**
 * Vitest global setup: builds dist/server.mjs and dist/cli.mjs (when a source is newer)
 * before any test file starts, so the tests that run the service or the tool as their
 * own process run what `npm start` and `stored-completions` run, never a stale bundle.
 */
export default async function buildBundles(): Promise<void> {
  await ensureBuilt();
}
