/**
 * Work a helper module leaves to the end of each test file (closing and dropping the databases it
 * opened). A module-level afterAll would do only in an isolated file: where files share a worker
 * (the `sqlite-shared` project, vitest.config.ts), a helper module is evaluated once, by the first
 * file, and its hook would belong to that file alone. test/helpers/file-setup.ts, which vitest runs
 * again for every file, calls these in an afterAll of each file's own.
 */
const cleanups = new Set<() => Promise<void>>();

/** Runs `cleanup` after every test file from now on (after the file's own afterAll hooks). */
export function atEndOfEachFile(cleanup: () => Promise<void>): void {
  cleanups.add(cleanup);
}

export async function runFileCleanups(): Promise<void> {
  for (const cleanup of cleanups) await cleanup();
}
