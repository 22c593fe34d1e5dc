import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.ts';
import { wasCutByServer } from './client-error.ts';
import { createHealthCheck, type Health } from './health.ts';
import type { Metrics } from './metrics.ts';
import { nodeResponse, setResponseHeader } from './response-headers.ts';
import type { Store } from './store/index.ts';
import { newRequestId } from './wire.ts';

/** Operational routes: polled every few seconds, so their log lines go to debug, not info. */
const QUIET_ROUTES = new Set(['/healthz', '/livez', '/metrics']);

/** What an endpoint answers: a Response, at once or later. */
export type Answer = Response | Promise<Response>;

interface Observers {
  metrics: Metrics;
  logger: Logger;
  /** The one renderer of errors (OpenAI's shape): an error an endpoint throws is answered and observed like any answer. */
  renderError: (err: unknown, c: Context<AppEnv>) => Response;
}

/**
 * Wraps an endpoint so that it observes itself: each request's id
 * (`x-request-id` on its response, `request_id` on a completion it stores),
 * then one JSON log line and one metrics sample per request: request id,
 * method, route pattern, status, duration. Never headers, query strings or
 * bodies, so keys and message contents cannot reach the log.
 *
 * `route` is the pattern the endpoint was registered for
 * (`/v1/chat/completions/:id`), never the raw path: metric labels and log
 * fields must not grow with the number of ids.
 *
 * Each endpoint observes itself, rather than a middleware in front of every
 * route, so that a request matches exactly one handler: Hono then calls it
 * directly (with middleware it composes a chain of async functions), and an
 * endpoint that answers at once (`/healthz` between two checks, a 401, a 404)
 * gives the Node adapter a Response it writes at once, without the promise,
 * the `close` listener and the extra turns of its asynchronous path. Under
 * Node the request is recorded when its response has been written to the end
 * (a stream included), not when the handler returns.
 */
export function createObserver(observers: Observers) {
  return (route: string, endpoint: (c: Context<AppEnv>) => Answer) =>
    (c: Context<AppEnv>): Answer => {
      const started = performance.now();
      const requestId = newRequestId();
      c.set('requestId', requestId);
      setResponseHeader(c, 'x-request-id', requestId);
      let answer: Answer;
      try {
        answer = endpoint(c);
      } catch (err) {
        answer = observers.renderError(err, c);
      }
      if (answer instanceof Promise) {
        return answer.then(
          (response) => recordWhenSent(observers, c, route, requestId, started, response),
          (err: unknown) => recordWhenSent(observers, c, route, requestId, started, observers.renderError(err, c)),
        );
      }
      return recordWhenSent(observers, c, route, requestId, started, answer);
    };
}

/**
 * nginx's "client closed request": the status recorded for a request whose client left before any answer
 * was sent. The handler's own (a 502 when it gave up the provider's answer no one waited for) was never
 * sent, and counted as one it set off alerts on the provider's health whenever clients timed out.
 */
const CLIENT_CLOSED = 499;

/**
 * The status to record for a response cut off before its end: the one sent, if its head went; the handler's
 * for a request the server itself cut while it still arrived (REQUEST_TIMEOUT_MS: the client got a 408);
 * else 499, the client left. A connection the stop's grace period closes is also counted 499: the log's
 * warning says those.
 */
function cutStatus(c: Context, outgoing: ServerResponse, status: number): number {
  if (outgoing.headersSent) return status;
  return wasCutByServer((c.env as { incoming?: IncomingMessage }).incoming?.socket) ? status : CLIENT_CLOSED;
}

function recordWhenSent(observers: Observers, c: Context, route: string, requestId: string, started: number, response: Response): Response {
  const outgoing = nodeResponse(c);
  const status = response.status;
  if (outgoing && !outgoing.writableFinished) {
    if (outgoing.destroyed) {
      // The connection was cut (client gone, or a forced stop) before the handler even returned.
      record(observers, c.req.method, route, cutStatus(c, outgoing, status), requestId, started, true);
    } else {
      // 'close' comes once the last byte is handed to the socket ('finish' first), or when the client
      // went away first: one listener tells both apart. `on`, not `once`: 'close' comes once, and
      // `once` costs a wrapper to add and a removal when it fires. A stream cut midway keeps the status it sent.
      outgoing.on('close', () => {
        const finished = outgoing.writableFinished;
        record(observers, c.req.method, route, finished ? status : cutStatus(c, outgoing, status), requestId, started, !finished);
      });
    }
  } else {
    record(observers, c.req.method, route, status, requestId, started, false);
  }
  return response;
}

/** A module function, not a closure made per request: this runs for every request. */
function record({ metrics, logger }: Observers, method: string, route: string, status: number, requestId: string, started: number, aborted: boolean): void {
  const seconds = (performance.now() - started) / 1000;
  metrics.httpRequests.observe(method, route, status, seconds);
  const level = QUIET_ROUTES.has(route) ? 'debug' : 'info';
  // The line is built only when it is written: at LOG_LEVEL=warn and above, a request costs no log work.
  if (!logger.isLevelEnabled(level)) return;
  const line = {
    requestId,
    method,
    route,
    status,
    durationMs: Math.round(seconds * 100_000) / 100,
    ...(aborted ? { aborted } : {}),
  };
  logger[level](line, 'request');
}

/**
 * `GET /healthz`: readiness, 200 when the database takes a write, else 503 with
 * the reason, so a health check or a load balancer takes an instance that
 * cannot store out of service. `GET /livez`: liveness, 200 whenever the process
 * answers at all (restarting it would not fix a full disk). `GET /metrics`:
 * Prometheus text. No key: they live outside /v1.
 */
export function createOperationalRoutes({ store, metrics, healthCheckIntervalMs }: { store: Store; metrics: Metrics; healthCheckIntervalMs: number }) {
  const routes = new Hono<AppEnv>();
  const check = createHealthCheck(store, healthCheckIntervalMs);

  const answer = (c: Context, { ok, reason, busy }: Health): Response =>
    ok ? c.json(busy ? { status: 'ok', busy } : { status: 'ok' }, 200) : c.json({ status: 'unavailable', reason }, 503);
  // Between two checks the answer is at hand: no promise for the probe that load balancers send most.
  routes.get('/healthz', (c): Answer => {
    const health = check();
    return health instanceof Promise ? health.then((known) => answer(c, known)) : answer(c, health);
  });

  routes.get('/livez', (c) => c.json({ status: 'ok' }, 200));

  routes.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });

  return routes;
}
