import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { isObject } from '../json.ts';
import type { Store } from '../store/index.ts';

/**
 * One run at a time per mirror (source, key, project, filters). Two runs at once, an overlapping cron
 * the likeliest (a first run of a long history outlasts the interval), would each write the position
 * and the list of completions to read again from what they alone saw, and the later write would drop
 * ids the other still had to read. So a run claims the mirror in the store's settings (shared by every
 * process and instance on the database), renews the claim while it works, and gives it back at the end;
 * a claim whose run was killed lapses after `LEASE_TTL_MS`. Times are the machines' clocks: instances
 * on one PostgreSQL are expected to keep time, and the margins are minutes against seconds of skew.
 */

export const LEASE_TTL_MS = 120_000;
/** Renewed this often: three renewals can fail (a database restart) before the claim lapses. */
const LEASE_RENEW_MS = 30_000;
/** A run stops writing when less than this is left of a claim it could not renew: another may take it soon. */
const LEASE_MARGIN_MS = 30_000;

interface Claim {
  owner: string;
  host: string;
  pid: number;
  /** Whose pids `pid` is one of (`processSpace`): absent where that cannot be told. */
  space?: string;
  started: string;
  /** Unix milliseconds. */
  expires: number;
}

export class MirrorBusyError extends Error {}

export interface MirrorLease {
  /** Throws when this run no longer holds the claim: call before each write of the mirror's settings. */
  check(): void;
  /** Gives the claim back (nothing when another run took it); errors are swallowed, since an unrenewed claim lapses. */
  release(): Promise<void>;
}

function readClaim(saved: string): Claim | undefined {
  try {
    const parsed = JSON.parse(saved) as unknown;
    return isObject(parsed) && typeof parsed.expires === 'number' ? (parsed as unknown as Claim) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The space `pid` is a number in: this boot of this kernel and this pid namespace (Linux). A host name alone does
 * not tell it: containers with the host's network (`--network host`, Kubernetes' hostNetwork) take the host's name
 * and have pids of their own, and machines cloned from one image share a name; there a claim's pid, looked up
 * here, is another process or none, and a running claim would be taken.
 */
const PROCESS_SPACE = (() => {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} ${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
})();

/**
 * The claim's run was on this machine and its process is gone (killed, or stopped by Ctrl-C): run again at once, as
 * an operator does, the next run need not wait for the claim to lapse. A pid taken since by another process keeps the
 * wait; a run on another machine (another container) is left to its lapse.
 */
function gone(claim: Claim): boolean {
  if (claim.host !== hostname() || claim.space !== PROCESS_SPACE || !Number.isInteger(claim.pid) || claim.pid <= 0) return false;
  try {
    process.kill(claim.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface LeaseOptions {
  /** What the claim is for, in the error another run sees: `this source into project "p"`. */
  describe: string;
  now?: () => number;
  ttlMs?: number;
  renewMs?: number;
}

export async function takeMirrorLease(store: Store, key: string, options: LeaseOptions): Promise<MirrorLease> {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? LEASE_TTL_MS;
  const renewMs = options.renewMs ?? LEASE_RENEW_MS;
  const margin = Math.min(LEASE_MARGIN_MS, ttlMs / 4);
  const claim: Claim = { owner: randomUUID(), host: hostname(), pid: process.pid, space: PROCESS_SPACE, started: new Date(now()).toISOString(), expires: now() + ttlMs };
  let held = JSON.stringify(claim);
  for (;;) {
    const current = await store.getSetting(key);
    const other = current === undefined ? undefined : readClaim(current);
    if (other !== undefined && other.expires > now() && !gone(other)) {
      throw new MirrorBusyError(
        `another mirror of ${options.describe} is running (since ${other.started}, pid ${other.pid} on ${other.host}): not started, so the two do not ` +
          `overwrite each other's position. Run again once it has finished; a run that was killed gives its claim up by ${new Date(other.expires).toISOString()}`,
      );
    }
    // Taken as found (free, lapsed, or unreadable): if another run changed it meanwhile, read it again.
    if (await store.replaceSetting(key, current, held)) break;
  }

  let lost = false;
  let renewal: Promise<void> | undefined;
  /**
   * Replaces this run's claim. When the value is not the one last written, the claim may still be this run's: a write
   * whose answer was lost (the connection dropped after its commit) left it under the value this run never learned of.
   */
  const replaceOwn = async (next: string | undefined): Promise<boolean> => {
    if (await store.replaceSetting(key, held, next)) return true;
    const current = await store.getSetting(key);
    return current !== undefined && readClaim(current)?.owner === claim.owner && (await store.replaceSetting(key, current, next));
  };
  const renew = async () => {
    const expires = now() + ttlMs;
    const next = JSON.stringify({ ...claim, expires });
    try {
      if (await replaceOwn(next)) {
        held = next;
        claim.expires = expires;
      } else {
        lost = true;
      }
    } catch {
      // The database is away (a restart): the claim still holds until it lapses, and `check` counts the time left.
    }
  };
  const timer = setInterval(() => {
    if (renewal || lost) return;
    renewal = renew().finally(() => (renewal = undefined));
  }, renewMs);
  timer.unref();
  return {
    check() {
      if (lost || now() >= claim.expires - margin) {
        lost = true;
        throw new MirrorBusyError(
          `this run lost its claim on the mirror of ${options.describe} (it could not renew it in time, and another run may have taken it over): ` +
            'stopped before writing its position; what it stored stays',
        );
      }
    },
    async release() {
      clearInterval(timer);
      await renewal;
      if (lost) return;
      lost = true;
      try {
        await replaceOwn(undefined);
      } catch {
        // Lapses by itself.
      }
    },
  };
}
