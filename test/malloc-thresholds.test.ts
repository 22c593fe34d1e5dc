import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The service's SQLite store, opened, raises glibc's heap trim threshold (src/db/malloc-thresholds.ts), so
 * that the blocks a served list frees in bulk stay in the heap instead of going back to the kernel and being
 * faulted in again on the next request. In a fresh process (the thresholds are the process's own): 3 MiB of
 * heap freed together, then allocated again, must not fault page by page. Before the change ~650 faults.
 */
const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;

describe('glibc heap trimming after a database is opened', () => {
  it.skipIf(process.platform !== 'linux' || glibc === undefined)('keeps 3 MiB freed at once instead of handing it back', () => {
    const fixture = join(import.meta.dirname, 'fixtures', 'malloc-trim.ts');
    // Without the operator's MALLOC_* (MALLOC_TRIM_THRESHOLD_ is the documented way out of the raise): glibc's defaults.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MALLOC_')));
    const output = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', fixture], { encoding: 'utf8', env });
    const { faults } = JSON.parse(output) as { faults: number };
    expect(faults).toBeLessThan(100);
  });
});
