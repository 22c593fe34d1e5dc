import { setFlagsFromString } from 'node:v8';

/**
 * The command-line tool's V8 setting, made before it allocates anything (imported first by src/cli/main.ts),
 * since `npm run cli`, `stored-completions` and `docker compose exec` start it on bare `node`: without
 * allocation-site pretenuring, as the service runs (SERVER_NODE_FLAGS in scripts/build.mjs). V8 learned to
 * allocate node-postgres's per-query objects straight into the old generation, and every row they pointed to
 * then outlived each young-generation collection: an export or import on PostgreSQL spent most of its extra
 * CPU copying and promoting them (bench/README.md, "PostgreSQL list pages: where the service's CPU goes").
 * Set at run time it takes effect all the same (measured: bench/pg-query-gc.ts, 154 -> 73 µs a page).
 */
setFlagsFromString('--no-allocation-site-pretenuring');
