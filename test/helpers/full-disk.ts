import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real full disk for tests: a tmpfs of a given size, and a file that takes every byte left on it.
 * Mounting needs root (CI runs as root); elsewhere the test is skipped, saying why.
 */

/** A tmpfs of `size` at folder/mnt, or a skip where this machine cannot mount one. */
export function mountTmpfs(context: { skip(note: string): void }, folder: string, size: string): string {
  const mount = join(folder, 'mnt');
  mkdirSync(mount);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount]).status !== 0) {
    context.skip('cannot mount a tmpfs here (needs root); CI runs as root');
  }
  return mount;
}

/** Unmounts what `mountTmpfs` mounted, lazily: a test that failed with the disk still full may leave a database open on it. */
export function unmountTmpfs(folder: string): void {
  spawnSync('umount', ['-l', join(folder, 'mnt')], { stdio: 'ignore' });
}

/** Fills the file system holding `path` with one file, until no byte fits. */
export function fill(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch {
    // ENOSPC: full.
  }
  for (const size of [4096, 512, 1]) {
    try {
      for (;;) writeSync(fd, block, 0, size);
    } catch {
      // ENOSPC at this size too.
    }
  }
  closeSync(fd);
}
