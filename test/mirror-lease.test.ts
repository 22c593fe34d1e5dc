import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { MirrorBusyError, takeMirrorLease } from '../src/mirror/mirror-lease.ts';
import type { Store } from '../src/store/index.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';

/**
 * One mirror run at a time: the claim kept in the store's settings (compare-and-set, tested on both backends in
 * store-contract.test.ts), here with short lifetimes and real timers.
 */

const KEY = 'mirror_lease:test';
const options = { describe: 'the source into project "p"', ttlMs: 400, renewMs: 50 };
let store: Store;

beforeEach(() => {
  store = createSqliteStore(openDatabase(':memory:'));
});

afterEach(async () => {
  await store.close();
});

describe('mirror lease', () => {
  it('refuses a second claim while the first is held and renewed past its lifetime, and grants one once it is given back', async () => {
    const first = await takeMirrorLease(store, KEY, options);
    await sleep(900);
    first.check();
    const refused = await takeMirrorLease(store, KEY, options).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(MirrorBusyError);
    expect((refused as Error).message).toMatch(
      new RegExp(
        `^another mirror of the source into project "p" is running \\(since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, pid ${process.pid} on .+\\): not started, so the two do not overwrite each other's position\\. ` +
          'Run again once it has finished; a run that was killed gives its claim up by \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$',
      ),
    );
    await first.release();
    expect(await store.getSetting(KEY)).toBe(undefined);
    const second = await takeMirrorLease(store, KEY, options);
    second.check();
    await second.release();
  });

  it('takes over a claim that lapsed (its run was killed), and the run it was taken from stops before its next write', async () => {
    let clock = Date.now();
    const frozen = await takeMirrorLease(store, KEY, { ...options, renewMs: 60_000, now: () => clock });
    frozen.check();
    clock += 1_000;
    // Past its lifetime without a renewal: the holder stops itself, and another run may take it.
    expect(() => frozen.check()).toThrow(/^this run lost its claim on the mirror of the source into project "p"/);
    const next = await takeMirrorLease(store, KEY, { ...options, now: () => clock });
    next.check();
    const held = await store.getSetting(KEY);
    // The old holder giving back what it no longer holds leaves the new claim alone.
    await frozen.release();
    expect(await store.getSetting(KEY)).toBe(held);
    await next.release();
  });

  it('a claim another run overwrote is found at the next renewal, and the run stops', async () => {
    const lease = await takeMirrorLease(store, KEY, options);
    await store.setSetting(KEY, JSON.stringify({ owner: 'other', host: 'elsewhere', pid: 1, started: new Date().toISOString(), expires: Date.now() + 60_000 }));
    await sleep(200);
    expect(() => lease.check()).toThrow(MirrorBusyError);
    await lease.release();
    expect(JSON.parse((await store.getSetting(KEY))!).owner).toBe('other');
  });

  it("takes at once a claim whose run was on this machine and whose process is gone (killed), not one on another machine", async () => {
    const { pid } = spawnSync(process.execPath, ['-e', '']);
    // A claim as this machine's runs write it, but for the exited process.
    const own = await takeMirrorLease(store, KEY, options);
    const killed = { ...JSON.parse((await store.getSetting(KEY))!), owner: 'killed', pid };
    await own.release();
    await store.setSetting(KEY, JSON.stringify(killed));
    const lease = await takeMirrorLease(store, KEY, options);
    lease.check();
    await lease.release();
    await store.setSetting(KEY, JSON.stringify({ ...killed, host: `not-${hostname()}` }));
    await expect(takeMirrorLease(store, KEY, options)).rejects.toThrow(MirrorBusyError);
  });

  it('leaves a claim of a machine or container with the same host name to its lapse: its pid is not one of this process space', async () => {
    // A container on the host's network has the host's name and pids of its own: its run's pid, looked up here, is no process.
    const { pid } = spawnSync(process.execPath, ['-e', '']);
    const elsewhere = { owner: 'elsewhere', host: hostname(), pid, space: 'another-boot pid:[1]', started: new Date().toISOString(), expires: Date.now() + 60_000 };
    await store.setSetting(KEY, JSON.stringify(elsewhere));
    await expect(takeMirrorLease(store, KEY, options)).rejects.toThrow(MirrorBusyError);
    // One written before claims named their process space: not taken either.
    const { space: _, ...unnamed } = elsewhere;
    await store.setSetting(KEY, JSON.stringify(unnamed));
    await expect(takeMirrorLease(store, KEY, options)).rejects.toThrow(MirrorBusyError);
  });

  it('keeps its claim when a renewal was committed but its answer lost (the connection dropped), and gives it back at the end', async () => {
    let dropNext = false;
    let replaces = 0;
    const flaky: Store = {
      ...store,
      async replaceSetting(...args) {
        const replaced = await store.replaceSetting(...args);
        replaces++;
        if (dropNext) {
          dropNext = false;
          throw new Error('Connection terminated unexpectedly');
        }
        return replaced;
      },
    };
    const lease = await takeMirrorLease(flaky, KEY, options);
    dropNext = true;
    const after = replaces;
    // The renewal whose answer was lost, then the next one, from a value this run never saw come back.
    await expect.poll(() => replaces - after, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    lease.check();
    await sleep(600);
    lease.check();
    await lease.release();
    expect(await store.getSetting(KEY)).toBe(undefined);
  });

  it('takes a claim it cannot read (not JSON) as free', async () => {
    await store.setSetting(KEY, 'garbage');
    const lease = await takeMirrorLease(store, KEY, options);
    lease.check();
    await lease.release();
    expect(await store.getSetting(KEY)).toBe(undefined);
  });
});
