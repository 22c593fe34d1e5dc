#!/usr/bin/env node
// The command-line tool's entry for checkouts and the container image: runs the bundle
// scripts/build.mjs makes of src/cli/main.ts (plain JavaScript on bare node: no transpiler
// in the process), exactly as `npm run cli` does. In a checkout the bundle is rebuilt first
// if a source is newer; the image ships it built and has no scripts/ folder.
const build = await import('../scripts/build.mjs').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
  throw err;
});
await build?.ensureBuilt();
await import('../dist/cli.mjs');
