import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout's (or the image's) root folder, where `migrations/`,
 * `migrations-pg/` and `src/ui/` are. This module sits one folder below the
 * root, and so do the bundles `scripts/build.mjs` inlines it into
 * (`dist/server.mjs`, `dist/cli.mjs`): one step up is the root from both.
 * Files that need a path inside the project take it from here, never from
 * their own `import.meta.url`, whose depth a bundle changes.
 */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
