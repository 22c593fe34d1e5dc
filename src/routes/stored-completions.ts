import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { jsonText, queryParams, readJsonObject } from '../http.ts';
import type { Store } from '../store/index.ts';
import { parseListParams, parseMetadata, parsePageParams } from '../validation.ts';
import { serializeCompletion, serializeCompletionList, serializeDeleted, serializeMessageList } from '../wire.ts';

/** List, retrieve, update, delete and messages of stored completions; each sees only the caller's project. */
export function createStoredCompletionRoutes(store: Store, bodyLimitBytes: number) {
  const routes = new Hono<AppEnv>();

  routes.get('/', async (c) => {
    const page = await store.listCompletionsJson(c.get('tenant').project, parseListParams(queryParams(c)));
    return jsonText(c, serializeCompletionList(page));
  });

  routes.get('/:id', async (c) => {
    const id = c.req.param('id');
    const row = await store.getCompletion(c.get('tenant').project, id);
    if (!row) throw ApiError.notFoundCompletion(id);
    return jsonText(c, serializeCompletion(row));
  });

  routes.post('/:id', async (c) => {
    const id = c.req.param('id');
    const body = await readJsonObject(c, bodyLimitBytes);
    if (!('metadata' in body)) {
      throw ApiError.badRequest("Missing required parameter: 'metadata'.", 'metadata', 'missing_required_parameter');
    }
    const row = await store.updateMetadata(c.get('tenant').project, id, parseMetadata(body.metadata));
    if (!row) throw ApiError.notFoundCompletion(id);
    return jsonText(c, serializeCompletion(row));
  });

  routes.delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await store.deleteCompletion(c.get('tenant').project, id))) throw ApiError.notFoundCompletion(id);
    return jsonText(c, serializeDeleted(id));
  });

  routes.get('/:id/messages', async (c) => {
    const id = c.req.param('id');
    const page = await store.listMessages(c.get('tenant').project, id, parsePageParams(queryParams(c)));
    if (!page) throw ApiError.notFoundCompletion(id);
    return jsonText(c, serializeMessageList(id, page));
  });

  return routes;
}
