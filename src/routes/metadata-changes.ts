import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { type BodyLimits, jsonText, readJsonObject } from '../http.ts';
import { parseMetadataChangeRequest } from '../metadata-change-params.ts';
import type { MetadataChangeResult, Store } from '../store/index.ts';

/** One completion's answer on the wire: `metadata` and `previous_metadata` null for one not found. */
function resultJson(result: MetadataChangeResult) {
  if (result.outcome === 'not_found') return { id: result.id, outcome: result.outcome, metadata: null, previous_metadata: null };
  return { id: result.id, outcome: result.outcome, metadata: result.metadata, previous_metadata: result.previous };
}

/**
 * `POST /v1/stored-completions/metadata`: some pairs set and keys removed on up to 100 completions of the caller's
 * project, merged with each map as stored at that moment (docs/api.md). OpenAI's update replaces the whole map, so a
 * client that merges for itself loses what another client wrote between its read and its write; this never does.
 */
export function createMetadataChangeRoutes(store: Store, bodyLimits: BodyLimits) {
  const routes = new Hono<AppEnv>();
  routes.post('/', async (c) => {
    const { ids, change } = parseMetadataChangeRequest(await readJsonObject(c, bodyLimits));
    const results = await store.changeMetadata(c.get('tenant').project, ids, change);
    return jsonText(c, JSON.stringify({ object: 'list', data: results.map(resultJson) }));
  });
  return routes;
}
