import { constants, openSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

/**
 * JSON lines on stdout, or on `destination` (tests capture the lines there).
 * Authorization headers and bodies are never passed to it, so keys and message
 * contents never reach a log.
 */
export function createLogger(level: Config['logLevel'], destination?: DestinationStream): Logger {
  const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(options, destination ?? stdoutDestination());
}

/** Lines held for a pipe whose reader is slow, at most this many bytes: past it new lines are dropped (and counted), not held in memory without end. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** How often held lines are tried again while the pipe is full. */
const RETRY_MS = 10;
/** At exit, how long lines still held may keep the process from ending. */
const EXIT_FLUSH_MS = 500;

export interface FdDestination extends DestinationStream {
  /** Writes the lines still held, waiting for a full pipe up to `waitMs`; never throws. */
  flushHeld(waitMs: number): void;
}

let stdout: FdDestination | undefined;

/**
 * A terminal on stdout is left blocking by Node (a pipe is made non-blocking): a terminal nobody
 * reads (Ctrl-S, a stalled ssh session, a pty supervisor that stopped reading) then stopped the
 * event loop inside write(), and with it every request and every signal handler. It is opened
 * again as a handle of our own, non-blocking, so that a full terminal is a full pipe (EAGAIN:
 * lines held, then dropped) and the shell's own handle is left as it was. Where that cannot be
 * done (no /proc), fd 1 as it is.
 */
function nonBlockingStdout(fd: number): number {
  if (!isatty(fd)) return fd;
  try {
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return fd;
  }
}

/** One for the process: its exit handler writes what a full pipe held back. */
function stdoutDestination(): FdDestination {
  if (stdout) return stdout;
  // Reading process.stdout makes node open fd 1, and a pipe on it non-blocking: a reader that stops
  // reading then fills the pipe (EAGAIN) instead of stopping the event loop inside write().
  const destination = createFdDestination(nonBlockingStdout(process.stdout.fd ?? 1), 'stdout');
  process.once('exit', () => destination.flushHeld(EXIT_FLUSH_MS));
  stdout = destination;
  return destination;
}

/**
 * Log lines written to `fd` synchronously, each out before the code that logged it goes
 * on, so the lines before a crash are not lost. pino's own stdout stream (sonic-boom)
 * is not used: once a pipe's reader was gone, its flush at exit retried the EPIPE every
 * 100 ms forever, and a SIGTERM left a process that neither served nor exited.
 *
 * A full pipe (EAGAIN: the reader is slow) holds the lines, in order, and tries again
 * on a timer: the event loop never waits for the reader. A write that fails otherwise
 * (EPIPE: the reader is gone; EIO: the terminal is; EBADF...) ends logging for good,
 * with one line on stderr: the service goes on serving, and stops when asked.
 */
export function createFdDestination(fd: number, name: string): FdDestination {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let dropped = 0;
  let failed = false;
  let retry: NodeJS.Timeout | undefined;

  const fail = (err: NodeJS.ErrnoException) => {
    failed = true;
    held = [];
    heldBytes = 0;
    if (retry) clearTimeout(retry);
    try {
      writeSync(2, `${name} cannot be written to (${err.code ?? err.message}): no more log lines; the service goes on\n`);
    } catch {
      // stderr is gone too.
    }
  };

  const hold = (chunk: Buffer, whole: boolean) => {
    // A line already partly written is always kept: dropping its rest would run it into the next line.
    if (whole && heldBytes + chunk.length > MAX_PENDING_BYTES) {
      dropped++;
      return;
    }
    held.push(chunk);
    heldBytes += chunk.length;
    scheduleRetry();
  };

  /** Writes what is held, in order; false while the pipe is full. */
  const drain = (): boolean => {
    while (held.length > 0 && !failed) {
      const chunk = held[0]!;
      let written: number;
      try {
        written = writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        fail(err as NodeJS.ErrnoException);
        return true;
      }
      heldBytes -= written;
      if (written < chunk.length) held[0] = chunk.subarray(written);
      else held.shift();
      if (held.length === 0 && dropped > 0) {
        const line = { level: 40, time: new Date().toISOString(), dropped, msg: `log lines dropped: ${name} was not read fast enough` };
        dropped = 0;
        held.push(Buffer.from(`${JSON.stringify(line)}\n`));
        heldBytes += held[0]!.length;
      }
    }
    return true;
  };

  function scheduleRetry(): void {
    if (retry || failed) return;
    // Unref'd: held lines never keep a stopped service alive; the exit handler writes them.
    retry = setTimeout(() => {
      retry = undefined;
      if (!drain()) scheduleRetry();
    }, RETRY_MS).unref();
  }

  const sleepCell = new Int32Array(new SharedArrayBuffer(4));

  return {
    write(line: string): void {
      if (failed) return;
      if (held.length > 0) return hold(Buffer.from(line), true);
      let written: number;
      try {
        written = writeSync(fd, line);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') hold(Buffer.from(line), true);
        else fail(err as NodeJS.ErrnoException);
        return;
      }
      if (written < Buffer.byteLength(line)) hold(Buffer.from(line).subarray(written), false);
    },
    flushHeld(waitMs: number): void {
      const until = Date.now() + waitMs;
      while (!drain() && Date.now() < until) Atomics.wait(sleepCell, 0, 0, RETRY_MS);
    },
  };
}
