import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { createStopSignals, REPEATED_SIGNAL_MS } from './stop-signals.ts';

export interface ShutdownOptions {
  server: Server;
  /** How long in-flight requests and streams may go on once a stop is asked for. */
  graceMs: number;
  logger: Logger;
  /** Runs once no connection is left: stop background work, checkpoint and close the database. */
  release: () => void | Promise<void>;
  exit: (code: number) => void;
}

/** After a second signal, how long releasing the database may still take before the process exits anyway. */
export const FORCED_EXIT_MS = 2_000;

/**
 * Graceful stop, for SIGTERM and SIGINT: stop accepting connections, let the
 * requests and streams in flight finish for up to `graceMs`, cut what is left,
 * then release the database and exit 0. A second signal cuts at once, and exits 1
 * if the release has not finished `FORCED_EXIT_MS` later (a database that does not answer):
 * a second signal always ends the process. The first signal repeated within `REPEATED_SIGNAL_MS`
 * is not a second signal.
 * Every completion acknowledged with a 200 was committed before its response
 * was sent, so cutting a connection loses nothing that was acknowledged.
 */
export function createShutdown({ server, graceMs, logger, release, exit }: ShutdownOptions): (signal: string) => void {
  const kindOf = createStopSignals();
  let forcedExit: NodeJS.Timeout | undefined;

  // Requests that arrive on an already open keep-alive connection while draining are served, then that connection is closed.
  // Prepended below: the app's own listener can answer synchronously, after which no header can be set.
  const closeAfterResponse = (_req: IncomingMessage, res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
  };

  return (signal) => {
    const kind = kindOf(signal);
    if (kind === 'repeat') {
      logger.info({ signal, withinMs: REPEATED_SIGNAL_MS }, 'the stop signal again at once: the same stop (npm passes on what its process group got)');
      return;
    }
    if (kind === 'second') {
      logger.warn({ signal }, 'second stop signal: closing all connections now');
      server.closeAllConnections();
      // Not unref'd: a release stuck on nothing the event loop counts still ends here, not in an exit 0.
      forcedExit ??= setTimeout(() => {
        logger.error({ forcedExitMs: FORCED_EXIT_MS }, 'stop not finished after a second signal: exiting now');
        exit(1);
      }, FORCED_EXIT_MS);
      return;
    }
    server.prependListener('request', closeAfterResponse);

    const deadline = setTimeout(() => {
      logger.warn({ graceMs }, 'grace period over: closing the connections still open');
      server.closeAllConnections();
    }, graceMs);
    // The timer does not keep the process alive: open connections do, and when they are gone the close below runs.
    deadline.unref();

    // Closes the connections idle now. One that an answer in flight leaves open is not swept shut later: that answer
    // told its client the connection stays open for the keep-alive timeout (it was decided before the stop), so the
    // client's next request may already be on its way, and closing under it reset that request unanswered (an SDK saw
    // a connection error, a load balancer a 502). The next request is served and closes it (closeAfterResponse), or
    // the keep-alive timeout does (KEEP_ALIVE_TIMEOUT_MS): the stop waits that long at most, within the grace period.
    server.close(async () => {
      clearTimeout(deadline);
      try {
        await release();
      } catch (err) {
        clearTimeout(forcedExit);
        logger.error({ err }, 'releasing resources failed');
        exit(1);
        return;
      }
      clearTimeout(forcedExit);
      logger.info('stopped');
      exit(0);
    });
    server.closeIdleConnections();
    // Logged once the listening socket is closed: from this line on, new connections are refused.
    logger.info({ signal, graceMs }, 'shutting down');
  };
}
