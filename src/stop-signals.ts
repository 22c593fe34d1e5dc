/**
 * The same stop signal again within this long of the first is the same stop delivered twice, not a
 * second one. `npm start` (and `npm run cli`) passes on the signal it gets to its script, and a
 * terminal's Ctrl-C, or `kill %1` in a shell with job control, signals npm and the script alike (one
 * process group): the service got SIGTERM twice within a millisecond, took the copy for an impatient
 * second signal and cut the requests in flight instead of letting them finish. No person signals twice
 * this fast on purpose.
 */
export const REPEATED_SIGNAL_MS = 250;

/** What a stop signal is, given those before it: the first, the first delivered again, or a second one. */
export type StopSignalKind = 'first' | 'repeat' | 'second';

/** Tells a process's stop signals apart (see REPEATED_SIGNAL_MS); one per process or server. */
export function createStopSignals(now: () => number = () => performance.now()): (signal: string) => StopSignalKind {
  let first: { signal: string; at: number } | undefined;
  return (signal) => {
    if (!first) {
      first = { signal, at: now() };
      return 'first';
    }
    return signal === first.signal && now() - first.at < REPEATED_SIGNAL_MS ? 'repeat' : 'second';
  };
}
