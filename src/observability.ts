import type { ServerResponse } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.ts';
import { createHealthCheck } from './health.ts';
import type { Metrics } from './metrics.ts';
import type { Store } from './store/index.ts';

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

/**
 * One JSON log line and one metrics sample per request: request id, method,
 * route pattern, status, duration. Never headers, query strings or bodies, so
 * keys and message contents cannot reach the log.
 * Under Node the request is recorded when its response has been written to the
 * end (a stream included), not when the handler returns.
 */
export function observeRequests({ metrics, logger }: { metrics: Metrics; logger: Logger }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const record = (aborted: boolean) => {
      const route = routeLabel(c);
      const status = c.res.status;
      const seconds = (performance.now() - started) / 1000;
      const labels = { method: c.req.method, route, status: String(status) };
      metrics.httpRequests.inc(labels);
      metrics.httpRequestDuration.observe(labels, seconds);
      const line = {
        requestId: c.var.requestId,
        method: c.req.method,
        route,
        status,
        durationMs: Math.round(seconds * 100_000) / 100,
        ...(aborted ? { aborted } : {}),
      };
      if (QUIET_ROUTES.has(route)) logger.debug(line, 'request');
      else logger.info(line, 'request');
    };
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    if (outgoing?.destroyed && !outgoing.writableFinished) {
      // The connection was cut (client gone, or a forced stop) before the handler even returned.
      record(true);
    } else if (outgoing && !outgoing.writableFinished) {
      // 'finish' when the last byte is handed to the socket; 'close' alone when the client went away first.
      let recorded = false;
      outgoing.once('finish', () => {
        recorded = true;
        record(false);
      });
      outgoing.once('close', () => {
        if (!recorded) record(true);
      });
    } else {
      record(false);
    }
  };
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
