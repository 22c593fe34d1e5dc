import { type Context, Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { parseExportParams, parseExportSelection } from '../export/params.ts';
import { exportLines, exportLinesOf, newTally } from '../export/run-export.ts';
import { type BodyLimits, queryParams, readJsonObject } from '../http.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';

const EXPORT_HEADERS = { 'content-type': 'application/x-ndjson' };

/**
 * A turn of the event loop, for the requests waiting on it. A fast reader (curl over loopback) takes each page as
 * soon as it is written, and on SQLite a page is read without I/O: the adapter's write-then-pull loop ran the whole
 * export without giving any other request a turn, a 100,000-completion export stalling `/livez` and every create for
 * 1.4 s. `setImmediate` runs after the I/O that arrived meanwhile, so a request waits at most one page (~6 ms).
 */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `GET /v1/stored-completions/export`: the command-line export over HTTP, for
 * the caller's project only, streamed as NDJSON (streamedLines); `POST` the same
 * lines for completions named by id.
 */
export function createExportRoutes(store: Store, metrics: Metrics, bodyLimits: BodyLimits) {
  const routes = new Hono<AppEnv>();

  routes.get('/export', async (c) => {
    const params = parseExportParams(queryParams(c));
    const lines = exportLines(store, { project: c.get('tenant').project, ...params }, newTally());
    // The first page is read before the answer starts: an `after` the project never had (the list's 400) or a
    // database out of reach (503) is then an error in OpenAI's shape, not a 200 whose body breaks off.
    const first = await lines.next();
    // HEAD answers as GET would, that first read included. Its answer has no body for the adapter to pull or
    // cancel: an export left open for it would never end, leaving the in-progress gauge counting it for good.
    if (c.req.method === 'HEAD') {
      await lines.return(undefined);
      return c.body(null, 200, EXPORT_HEADERS);
    }
    return streamedLines(c, lines, first, metrics);
  });

  // Chosen completions, by id, in the order named (a selection in the web UI): no filter picks an arbitrary set, and
  // tagging them first to filter by the tag changed their metadata, and failed on a map already at 16 pairs.
  routes.post('/export', async (c) => {
    const { ids, format, choice, sample } = parseExportSelection(await readJsonObject(c, bodyLimits));
    const project = c.get('tenant').project;
    // All checked before answering: one the project does not have is OpenAI's 404 naming it, not a file short of it.
    const sizes = await store.completionSizesOf(project, ids);
    const missing = ids.findIndex((id) => !sizes.has(id));
    if (missing !== -1) throw new ApiError(404, `No chat completion found with id '${ids[missing]}'.`, 'invalid_request_error', `ids[${missing}]`);
    const lines = exportLinesOf(store, { project, format, choice, sample }, ids, sizes, newTally());
    return streamedLines(c, lines, await lines.next(), metrics);
  });

  return routes;
}

/**
 * The export's answer: NDJSON pulled from `lines`, whose first read (`first`) was taken before answering. The body is
 * pulled: a page is read from the store only when the client has taken the previous one, and a client that goes away
 * cancels the stream, which ends the reads.
 */
function streamedLines(c: Context<AppEnv>, lines: AsyncGenerator<string>, firstRead: IteratorResult<string>, metrics: Metrics): Response {
  let first: IteratorResult<string> | undefined = firstRead;
  const encoder = new TextEncoder();
  let open = true;
  const finish = () => {
    if (open) metrics.exportsInProgress.dec();
    open = false;
  };
  metrics.exportsInProgress.inc();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        let next = first;
        first = undefined;
        if (!next) {
          await nextTurn();
          next = await lines.next();
        }
        if (next.done) {
          finish();
          controller.close();
        } else {
          controller.enqueue(encoder.encode(next.value));
        }
      } catch (err) {
        finish();
        controller.error(err);
      }
    },
    async cancel() {
      finish();
      await lines.return(undefined);
    },
  });
  return c.body(body, 200, EXPORT_HEADERS);
}
