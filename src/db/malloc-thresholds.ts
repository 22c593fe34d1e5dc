import type Database from 'better-sqlite3';

/**
 * The block SQLite allocates and frees once per process (below). glibc then keeps up to twice this
 * free at the top of its heap. The smallest size that took the page faults away on a served list
 * (bench/README.md, "glibc's trim threshold, set from inside"): at 2 MiB they were still there in
 * half the rounds.
 */
export const MALLOC_THRESHOLD_BYTES = 4 * 1024 * 1024;

let raised = false;

/**
 * Raises glibc's heap trim threshold for the whole process to 8 MiB, without an environment variable.
 *
 * glibc's malloc serves a block of M_MMAP_THRESHOLD or more (128 KiB at start) with its own mmap, and gives
 * the top of its heap back to the kernel whenever more than M_TRIM_THRESHOLD (128 KiB at start) is free
 * there. A served list page allocates several ~25 KB blocks (SQLite's group_concat buffer, the BLOB's
 * copy into a Buffer, the response's Buffer.concat), and V8 frees the Buffers in bulk when it collects:
 * the heap's top was handed back and faulted in again, zeroed, page by page (up to 5 faults and ~60 µs
 * of kernel time a request). `MALLOC_TRIM_THRESHOLD_` would stop it, but glibc reads it only when node
 * starts. Both thresholds move by themselves instead (mallopt(3), M_MMAP_THRESHOLD, and malloc(3),
 * "dynamic mmap threshold"): freeing an mmapped block larger than M_MMAP_THRESHOLD (and at most 32 MiB)
 * raises M_MMAP_THRESHOLD to that block's size and M_TRIM_THRESHOLD to twice it, for every arena, unless
 * the operator set one of the thresholds in the environment (which turns the adjustment off, and is
 * kept). `randomblob(N)` is one sqlite3_malloc of N bytes, freed when the statement resets: an mmap and
 * its munmap, then thresholds of 4 and 8 MiB. Until now the thresholds moved only by accident (brotli
 * compressing the UI at start freed a 720 KiB block: 1.4 MiB, which still let the faults through in
 * some runs, and which moved with the UI's size).
 *
 * Once per process: a second call would take its block from the raised heap and leave it there. With
 * musl (Alpine) or another platform's allocator nothing moves: the statement is then a 4 MiB block
 * allocated and freed once, ~15 ms at start, and nothing is kept; it is run on Linux only. Called for the
 * service's SQLite store only (openStore): the command-line tools' processes are short, and import kept
 * ~5 MB more at its peak with it.
 */
export function raiseMallocThresholds(sqlite: Database.Database): void {
  if (raised || process.platform !== 'linux') return;
  raised = true;
  sqlite.prepare('SELECT length(randomblob(?))').pluck().get(MALLOC_THRESHOLD_BYTES);
}
