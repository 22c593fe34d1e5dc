import { type Context, Hono } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.ts';
import { type Authenticate, createAuthenticator, loadProjectHashSecret } from './auth.ts';
import type { Config } from './config.ts';
import { apiCors } from './cors.ts';
import { createDatabaseWarnings } from './database-warnings.ts';
import { ApiError } from './errors.ts';
import { authorizationHeader } from './http.ts';
import { createMetrics, instrumentStore, instrumentUpstream, type Metrics } from './metrics.ts';
import { type Answer, createObserver, createOperationalRoutes } from './observability.ts';
import { setApiAnswerHeaders } from './response-headers.ts';
import { createCompletionHandler } from './routes/create-completion.ts';
import { createExportRoutes } from './routes/export.ts';
import { createMetadataChangeRoutes } from './routes/metadata-changes.ts';
import { createPassthroughHandler } from './routes/passthrough.ts';
import { createStoredCompletionRoutes } from './routes/stored-completions.ts';
import { createUiRoutes } from './routes/ui.ts';
import { createUsageRoutes } from './routes/usage.ts';
import type { Store } from './store/index.ts';
import type { Upstream } from './upstream/client.ts';

type Endpoint = (c: Context<AppEnv>) => Answer;

/** Handed to a routes module's handler as `next`, which none calls. */
const noNext = () => Promise.resolve();

/** OpenAI's 404 for a path it does not serve, answered rather than thrown: a throw costs its unwinding on every such request. */
function notFound(c: Context): Response {
  return c.json(ApiError.invalidUrl(c.req.method, c.req.path).toBody(), 404);
}

export interface AppDeps {
  store: Store;
  upstream: Upstream;
  config: Config;
  logger: Logger;
  /** Where the app counts; a fresh registry per app when omitted, so tests never share counters. */
  metrics?: Metrics;
}

/**
 * Builds the HTTP app from its dependencies. Nothing is read from globals, so
 * tests build as many apps as they like, each over its own database.
 */
export function createApp({ config, logger, ...deps }: AppDeps) {
  const app = new Hono<AppEnv>();
  const metrics = deps.metrics ?? createMetrics();
  const store = instrumentStore(deps.store, metrics);
  const upstream = instrumentUpstream(deps.upstream, metrics);
  // The secret is read from the database once, at the first /v1 request; a failed read is tried again next time.
  // Once read, every request authenticates synchronously.
  let authenticate: Authenticate | undefined;
  let loading: Promise<Authenticate> | undefined;
  let apiKeys = config.apiKeys;
  let projectHashSecret: Awaited<ReturnType<typeof loadProjectHashSecret>> | undefined;
  const authenticator = () => createAuthenticator({ apiKeys, upstreamApiKey: config.upstreamApiKey, projectHashSecret: projectHashSecret! });
  const loadAuthenticator = () =>
    (loading ??= loadProjectHashSecret(store)
      .then((secret) => {
        projectHashSecret = secret;
        // The keys as they are when the secret arrives: a reload while it was read is not undone.
        return authenticator();
      })
      .catch((err: unknown) => {
        loading = undefined;
        throw err;
      }));

  /**
   * New keys (SIGHUP, server.ts): every request from now on is authenticated against them (one in
   * flight finishes as it began). The project of a key that stays is the same: it is named in the keys.
   */
  function replaceApiKeys(keys: Map<string, string>): void {
    apiKeys = keys;
    if (authenticate) authenticate = authenticator();
  }

  const warnDatabaseUnavailable = createDatabaseWarnings(logger);
  const renderError = (err: unknown, c: Context<AppEnv>): Response => {
    if (err instanceof ApiError) {
      // The official clients wait this long and retry a 503 by themselves.
      if (err.status === 503) {
        c.header('retry-after', '1');
        // What the database said (a full disk, a refused password): the client gets the generic 503, the operator this.
        if (err.cause instanceof Error) warnDatabaseUnavailable(err.cause, { requestId: c.get('requestId'), path: c.req.path });
      }
      if (err.shouldRetry === false) c.header('x-should-retry', 'false');
      return c.json(err.toBody(), err.status as 400);
    }
    logger.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unexpected error');
    const error = new ApiError(500, 'The server had an error while processing your request. Sorry about that!', 'server_error');
    return c.json(error.toBody(), 500);
  };
  const observed = createObserver({ metrics, logger, renderError });

  // Authentication comes before anything else on /v1: no upstream call, no database work without a key.
  // Synchronous once the authenticator is loaded: no promise of its own on every request.
  const authenticated = (c: Context<AppEnv>, answer: () => Answer): Answer => {
    if (!authenticate) {
      return loadAuthenticator().then((loaded) => {
        authenticate = loaded;
        return authenticated(c, answer);
      });
    }
    c.set('tenant', authenticate(authorizationHeader(c)));
    return answer();
  };
  // CORS preflights carry no key: they are answered before authentication. Every answer under /v1, a 401 included,
  // is kept from caches and sniffing (`setApiAnswerHeaders`).
  const cors = apiCors(config.corsOrigins);
  const api = (endpoint: Endpoint) => (c: Context<AppEnv>) => {
    setApiAnswerHeaders(c);
    return cors(c, () => authenticated(c, () => endpoint(c)));
  };

  /**
   * Every request matches one handler, which does all the request needs
   * (observation; under /v1 CORS and the key), never a middleware in front of
   * every route: see `createObserver` for what that saves each request. So the
   * routes of a routes module are registered one by one here, each wrapped,
   * rather than mounted with `app.route()` (which would keep them as they are).
   */
  const add = (method: string, route: string, endpoint: Endpoint) => app.on(method, route, observed(route, endpoint));
  const mount = (prefix: string, routes: Hono<AppEnv>, wrap: (endpoint: Endpoint) => Endpoint) => {
    for (const { method, path, handler } of routes.routes) {
      // Our routes modules register handlers only (no middleware), none of which calls `next`.
      const endpoint = (c: Context<AppEnv>) => handler(c, noNext) as Answer;
      add(method, path === '/' ? prefix || '/' : prefix + path, wrap(endpoint));
    }
  };
  const asIs = (endpoint: Endpoint) => endpoint;

  mount('', createOperationalRoutes({ store, metrics, healthCheckIntervalMs: config.healthCheckIntervalMs }), asIs);
  add('POST', '/v1/chat/completions', api(createCompletionHandler({ store, upstream, config })));
  mount('/v1/chat/completions', createStoredCompletionRoutes(store, config), api);
  mount('/v1/stored-completions/usage', createUsageRoutes(store), api);
  mount('/v1/stored-completions', createExportRoutes(store, metrics, config), api);
  mount('/v1/stored-completions/metadata', createMetadataChangeRoutes(store, config), api);
  // Every path under /v1/stored-completions/ is ours: one we do not serve is a 404 here, never a call to the provider.
  // Labelled `/v1/*` as it always was (the pass-through's pattern matched it too while that was a route).
  app.all('/v1/stored-completions/*', observed('/v1/*', api(notFound)));
  // The web UI is a client of the routes above: the browser holds the key, the page itself needs none.
  mount('', createUiRoutes(), asIs);

  // Whatever our routes do not serve under /v1 goes to the provider; anything else is OpenAI's 404. Here rather than as
  // a `/v1/*` route, which would match every /v1 request beside its endpoint.
  const passThrough = observed('/v1/*', api(createPassthroughHandler({ upstream, bodyLimitBytes: config.bodyLimitBytes })));
  const unmatched = observed('unmatched', notFound);
  app.notFound((c) => {
    // `c.notFound()` from an endpoint (an unknown UI asset): that endpoint observes the request already.
    if (c.get('requestId') !== undefined) return notFound(c);
    return c.req.path === '/v1' || c.req.path.startsWith('/v1/') ? passThrough(c) : unmatched(c);
  });
  app.onError(renderError);

  return Object.assign(app, { replaceApiKeys });
}
