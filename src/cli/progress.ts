import type { Writable } from 'node:stream';
import { count } from '../counts.ts';

/** How often a plain (non-terminal) progress line is written: a log, not an animation. */
const PLAIN_INTERVAL_MS = 5_000;
const TERMINAL_INTERVAL_MS = 100;

export interface Progress {
  /** The current state, as `name value` pairs; shown at most every so often. */
  update(fields: Record<string, string | number>): void;
  /** A line of its own (a warning, a skipped record), above the progress line. */
  note(text: string): void;
  /** Clears the progress line and prints the summary. */
  finish(summary: string): void;
}

function formatFields(fields: Record<string, string | number>, startedAt: number): string {
  const seconds = (performance.now() - startedAt) / 1000;
  const parts = Object.entries(fields).map(([name, value]) => `${name} ${typeof value === 'number' ? count(value) : value}`);
  return `${parts.join(', ')}, ${seconds.toFixed(1)} s`;
}

/**
 * Progress on standard error, so standard output stays the data: a line
 * redrawn in place on a terminal, a plain line every few seconds otherwise
 * (a pipe, a log file, CI).
 */
export function createProgress(stream: Writable & { isTTY?: boolean }, label: string): Progress {
  const terminal = stream.isTTY === true;
  const startedAt = performance.now();
  // A plain line only once the work has lasted a while: a short run prints its summary alone.
  let lastShown = terminal ? -Infinity : startedAt;
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    update(fields) {
      const now = performance.now();
      if (now - lastShown < (terminal ? TERMINAL_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
      lastShown = now;
      const text = `${label}: ${formatFields(fields, startedAt)}`;
      if (terminal) {
        clear();
        stream.write(text);
        drawn = true;
      } else {
        stream.write(`${text}\n`);
      }
    },
    note(text) {
      clear();
      stream.write(`${text}\n`);
      // On a terminal the progress line is redrawn below the note at once.
      if (terminal) lastShown = -Infinity;
    },
    finish(summary) {
      clear();
      stream.write(`${summary}\n`);
    },
  };
}

/** Items a second since `startedAt`, grouped as `count` groups them. */
export function perSecond(items: number, startedAt: number): string {
  return `${count(Math.round(items / Math.max((performance.now() - startedAt) / 1000, 0.001)))}/s`;
}

/** Elapsed seconds and a rate, for summaries. */
export function rate(items: number, startedAt: number): string {
  return `${((performance.now() - startedAt) / 1000).toFixed(1)} s, ${perSecond(items, startedAt)}`;
}
