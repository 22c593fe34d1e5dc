import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * Several processes started at the same moment on one SQLite file that does not exist yet
 * (`docker compose up --scale app=3`, a rolling start): every one must open it. Switching a new
 * file to WAL fails at once with SQLITE_BUSY when another process is switching it too (SQLite
 * does not wait there, to avoid a deadlock), which made one start in ten fail before the switch
 * was retried. Real processes (SQLite's locks are the operating system's), released together
 * round after round, so the narrow race happens many times in one test.
 */

const CONTENDERS = 3;
const ROUNDS = 25;
const GAP_MS = 200;
const fixture = join(import.meta.dirname, 'fixtures', 'open-race.ts');

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-open-race-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

function startContender() {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, folder, String(ROUNDS), String(GAP_MS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => (line === 'ready' ? resolve() : output.push(line)));
    child.once('exit', (code) => reject(new Error(`contender exited (${code}) before it was ready`)));
  });
  const failures = new Promise<string[]>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output.join('')) as string[]) : reject(new Error(`contender exited (${code})`))));
  });
  return { child, ready, failures };
}

describe('processes opening a new SQLite file at the same moment', () => {
  it(`all ${CONTENDERS} open it, ${ROUNDS} times over`, async () => {
    const contenders = Array.from({ length: CONTENDERS }, startContender);
    await Promise.all(contenders.map((c) => c.ready));
    const startAt = Date.now() + 300;
    for (const { child } of contenders) child.stdin.end(`${startAt}\n`);
    const failures = await Promise.all(contenders.map((c) => c.failures));
    expect(failures).toEqual(contenders.map(() => []));
  }, 60_000);
});
