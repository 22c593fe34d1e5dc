import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { jsonText, queryParams } from '../http.ts';
import type { Store } from '../store/index.ts';
import { parseListFilters } from '../validation.ts';
import { serializeUsage } from '../wire.ts';

/** `GET /v1/stored-completions/usage`: completions and tokens per day and model for the list's filters (docs/api.md). */
export function createUsageRoutes(store: Store) {
  const routes = new Hono<AppEnv>();
  routes.get('/', async (c) => {
    const summary = await store.summarizeUsage(c.get('tenant').project, parseListFilters(queryParams(c)));
    return jsonText(c, serializeUsage(summary));
  });
  return routes;
}
