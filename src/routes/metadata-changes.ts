import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { type BodyLimits, jsonText, readJsonObjectBytes } from '../http.ts';
import { parseMetadataChangeRequest } from '../metadata-change-params.ts';
import { metadataJson, noteWrittenKeyOrders } from '../key-order.ts';
import type { MetadataChangeResult, Store } from '../store/index.ts';

/** One completion's answer on the wire, each map in its keys' order: `metadata` and `previous_metadata` null for one not found. */
function resultJson(result: MetadataChangeResult): string {
  const head = `{"id":${JSON.stringify(result.id)},"outcome":${JSON.stringify(result.outcome)}`;
  if (result.outcome === 'not_found') return `${head},"metadata":null,"previous_metadata":null}`;
  return `${head},"metadata":${metadataJson(result.metadata)},"previous_metadata":${metadataJson(result.previous)}}`;
}

/**
 * `POST /v1/stored-completions/metadata`: some pairs set and keys removed on up to 100 completions of the caller's
 * project, merged with each map as stored at that moment (docs/api.md). OpenAI's update replaces the whole map, so a
 * client that merges for itself loses what another client wrote between its read and its write; this never does.
 */
export function createMetadataChangeRoutes(store: Store, bodyLimits: BodyLimits) {
  const routes = new Hono<AppEnv>();
  routes.post('/', async (c) => {
    const { object, bytes } = await readJsonObjectBytes(c, bodyLimits);
    // `set`'s pairs are added in the order the body wrote them (parseMetadataChangeRequest keeps it).
    noteWrittenKeyOrders(object, bytes);
    const { ids, change } = parseMetadataChangeRequest(object);
    const results = await store.changeMetadata(c.get('tenant').project, ids, change);
    return jsonText(c, `{"object":"list","data":[${results.map(resultJson).join(',')}]}`);
  });
  return routes;
}
