import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { type BodyLimits, jsonText, queryParams, readJsonObjectBytes } from '../http.ts';
import { noteWrittenKeyOrders, parseMetadataInWrittenOrder } from '../key-order.ts';
import type { Answer } from '../observability.ts';
import type { Answered, Store } from '../store/index.ts';
import { parseListParams, parsePageParams } from '../validation.ts';
import { serializeCompletion, serializeCompletionList, serializeDeleted, serializeMessageList } from '../wire.ts';

/** Goes on with the store's answer in the turn it comes: at once when the store answered at once (see `Answered`). */
function withAnswer<T>(answered: Answered<T>, next: (value: T) => Response): Answer {
  return answered instanceof Promise ? answered.then(next) : next(answered);
}

/** List, retrieve, update, delete and messages of stored completions; each sees only the caller's project. */
export function createStoredCompletionRoutes(store: Store, bodyLimits: BodyLimits) {
  const routes = new Hono<AppEnv>();

  // A list page and a retrieve are answered in the turn the store answers them: at once on SQLite (see `Answered`).
  routes.get('/', (c): Answer => {
    const page = store.listCompletionsJson(c.get('tenant').project, parseListParams(queryParams(c)));
    return withAnswer(page, (read) => jsonText(c, serializeCompletionList(read)));
  });

  routes.get('/:id', (c): Answer => {
    const id = c.req.param('id');
    return withAnswer(store.getCompletion(c.get('tenant').project, id), (row) => {
      if (!row) throw ApiError.notFoundCompletion(id);
      return jsonText(c, serializeCompletion(row));
    });
  });

  routes.post('/:id', async (c) => {
    const id = c.req.param('id');
    const { object: body, bytes } = await readJsonObjectBytes(c, bodyLimits);
    if (!('metadata' in body)) {
      throw ApiError.badRequest("Missing required parameter: 'metadata'.", 'metadata', 'missing_required_parameter');
    }
    noteWrittenKeyOrders(body, bytes);
    const metadata = parseMetadataInWrittenOrder(body.metadata);
    // Metadata is all an update can change: a `model` or `messages` beside it is refused, as OpenAI's
    // newer endpoints refuse an unknown parameter, rather than answered 200 with it silently ignored.
    const unknown = Object.keys(body).find((key) => key !== 'metadata');
    if (unknown !== undefined) throw ApiError.badRequest(`Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');
    const row = await store.updateMetadata(c.get('tenant').project, id, metadata);
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
