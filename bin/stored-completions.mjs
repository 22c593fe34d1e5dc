#!/usr/bin/env node
// The command-line tool's entry for `npm install`ed checkouts and the container image: registers tsx
// (resolved from this package, whatever the working directory) and runs the TypeScript sources,
// exactly as `npm run cli` does.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
