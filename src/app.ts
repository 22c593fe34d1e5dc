import { type Context, Hono, type Next } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.ts';
import { type Authenticate, createAuthenticator, loadProjectHashSecret } from './auth.ts';
import type { Config } from './config.ts';
import { apiCors, withoutProviderCors } from './cors.ts';
import { ApiError } from './errors.ts';
import { authorizationHeader } from './http.ts';
import { createMetrics, instrumentStore, instrumentUpstream, type Metrics } from './metrics.ts';
import { createOperationalRoutes, observeRequests } from './observability.ts';
import { createCompletionHandler } from './routes/create-completion.ts';
import { createExportRoutes } from './routes/export.ts';
import { createPassthroughHandler } from './routes/passthrough.ts';
import { createStoredCompletionRoutes } from './routes/stored-completions.ts';
import { createUiRoutes } from './routes/ui.ts';
import { createUsageRoutes } from './routes/usage.ts';
import type { Store } from './store/index.ts';
import type { Upstream } from './upstream.ts';

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
  const upstream = withoutProviderCors(instrumentUpstream(deps.upstream, metrics));
  // The secret is read from the database once, at the first /v1 request; a failed read is tried again next time.
  // Once read, every request authenticates synchronously.
  let authenticate: Authenticate | undefined;
  let loading: Promise<Authenticate> | undefined;
  const loadAuthenticator = () =>
    (loading ??= loadProjectHashSecret(store)
      .then((projectHashSecret) =>
        createAuthenticator({ apiKeys: config.apiKeys, upstreamApiKey: config.upstreamApiKey, projectHashSecret }),
      )
      .catch((err: unknown) => {
        loading = undefined;
        throw err;
      }));

  app.use('*', observeRequests({ metrics, logger }));
  app.route('/', createOperationalRoutes({ store, metrics, healthCheckIntervalMs: config.healthCheckIntervalMs }));

  // Authentication comes before anything else on /v1: no upstream call, no database work without a key.
  // Synchronous once the authenticator is loaded: no promise of its own on every request.
  const authenticated = (c: Context<AppEnv>, next: Next): Promise<void> => {
    if (!authenticate) {
      return loadAuthenticator().then((loaded) => {
        authenticate = loaded;
        return authenticated(c, next);
      });
    }
    c.set('tenant', authenticate(authorizationHeader(c)));
    return next();
  };
  // CORS preflights carry no key: they are answered before authentication. One middleware for both,
  // as every level of middleware costs each /v1 request a dispatch.
  const cors = apiCors();
  app.use('/v1/*', (c, next) => cors(c, () => authenticated(c, next)));

  app.post('/v1/chat/completions', createCompletionHandler({ store, upstream, config }));
  app.route('/v1/chat/completions', createStoredCompletionRoutes(store, config.bodyLimitBytes));
  app.route('/v1/stored-completions/usage', createUsageRoutes(store));
  app.route('/v1/stored-completions', createExportRoutes(store, metrics));
  // Every path under /v1/stored-completions/ is ours: one we do not serve is a 404 here, never a call to the provider.
  app.all('/v1/stored-completions/*', notFound);
  // After our own routes: whatever they do not serve under /v1 goes to the provider.
  app.all('/v1/*', createPassthroughHandler({ upstream, bodyLimitBytes: config.bodyLimitBytes }));
  // The web UI is a client of the routes above: the browser holds the key, the page itself needs none.
  app.route('/', createUiRoutes());

  app.notFound(notFound);

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      // The official clients wait this long and retry a 503 by themselves.
      if (err.status === 503) c.header('retry-after', '1');
      return c.json(err.toBody(), err.status as 400);
    }
    logger.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unexpected error');
    const error = new ApiError(500, 'The server had an error while processing your request. Sorry about that!', 'server_error');
    return c.json(error.toBody(), 500);
  });

  return app;
}
