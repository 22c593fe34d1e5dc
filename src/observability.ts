import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.ts';
import { createHealthCheck } from './health.ts';
import type { Metrics } from './metrics.ts';
import { nodeResponse, setResponseHeader } from './response-headers.ts';
import type { Store } from './store/index.ts';
import { newRequestId } from './wire.ts';

/** Operational routes: polled every few seconds, so their log lines go to debug, not info. */
const QUIET_ROUTES = new Set(['/healthz', '/livez', '/metrics']);

/**
 * The route pattern a request matched (`/v1/chat/completions/:id`), never its
 * raw path: metric labels and log fields must not grow with the number of ids.
 * Our endpoints are registered for one method, middleware and the /v1
 * pass-through for all: the last single-method match is the endpoint, else the
 * last match (`/v1/*`, the pass-through); a request that matched nothing but
 * the catch-all middleware is `unmatched`.
 */
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  const path = (routes.findLast((route) => route.method !== 'ALL') ?? routes.at(-1))?.path ?? '';
  return path === '' || path === '*' || path === '/*' ? 'unmatched' : path;
}

interface Observers {
  metrics: Metrics;
  logger: Logger;
}

/**
 * Each request's id (`x-request-id` on its response, `request_id` on a
 * completion it stores), then one JSON log line and one metrics sample per
 * request: request id, method, route pattern, status, duration. Never headers,
 * query strings or bodies, so keys and message contents cannot reach the log.
 * Under Node the request is recorded when its response has been written to the
 * end (a stream included), not when the handler returns. One middleware, not
 * two: every request passes through it, and each level of middleware costs.
 */
export function observeRequests(observers: Observers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = newRequestId();
    c.set('requestId', requestId);
    setResponseHeader(c, 'x-request-id', requestId);
    await next();
    const outgoing = nodeResponse(c);
    if (outgoing && !outgoing.writableFinished) {
      if (outgoing.destroyed) {
        // The connection was cut (client gone, or a forced stop) before the handler even returned.
        record(observers, c, requestId, started, true);
      } else {
        // 'close' comes once the last byte is handed to the socket ('finish' first), or when the client
        // went away first: one listener tells both apart. `on`, not `once`: 'close' comes once, and
        // `once` costs a wrapper to add and a removal when it fires.
        outgoing.on('close', () => record(observers, c, requestId, started, !outgoing.writableFinished));
      }
    } else {
      record(observers, c, requestId, started, false);
    }
  };
}

/** A module function, not a closure made per request: this runs for every request. */
function record({ metrics, logger }: Observers, c: Context, requestId: string, started: number, aborted: boolean): void {
  const route = routeLabel(c);
  const method = c.req.method;
  const status = c.res.status;
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
  const health = createHealthCheck(store, healthCheckIntervalMs);

  routes.get('/healthz', async (c) => {
    const { ok, reason } = await health();
    return ok ? c.json({ status: 'ok' }, 200) : c.json({ status: 'unavailable', reason }, 503);
  });

  routes.get('/livez', (c) => c.json({ status: 'ok' }, 200));

  routes.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });

  return routes;
}
