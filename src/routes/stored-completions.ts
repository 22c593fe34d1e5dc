import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { jsonText, queryParams, readJsonObject } from '../http.ts';
import type { Answer } from '../observability.ts';
import type { CompletionListJson, CompletionRow, Store } from '../store/index.ts';
import { parseListParams, parseMetadata, parsePageParams } from '../validation.ts';
import { serializeCompletion, serializeCompletionList, serializeDeleted, serializeMessageList } from '../wire.ts';

/** List, retrieve, update, delete and messages of stored completions; each sees only the caller's project. */
export function createStoredCompletionRoutes(store: Store, bodyLimitBytes: number) {
  const routes = new Hono<AppEnv>();

  // A list page and a retrieve are answered in the turn the store answers them: at once on SQLite (see `Answered`).
  routes.get('/', (c): Answer => {
    const page = store.listCompletionsJson(c.get('tenant').project, parseListParams(queryParams(c)));
    const answer = (read: CompletionListJson) => jsonText(c, serializeCompletionList(read));
    return page instanceof Promise ? page.then(answer) : answer(page);
  });

  routes.get('/:id', (c): Answer => {
    const id = c.req.param('id');
    const row = store.getCompletion(c.get('tenant').project, id);
    const answer = (read: CompletionRow | undefined) => {
      if (!read) throw ApiError.notFoundCompletion(id);
      return jsonText(c, serializeCompletion(read));
    };
    return row instanceof Promise ? row.then(answer) : answer(row);
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
