import type { Logger } from 'pino';
import { ConfigError, reloadApiKeys } from './config.ts';

export interface KeyReloadOptions {
  /** The keys the service started with; undefined in pass-through mode, where there is nothing to read again. */
  keys: Map<string, string> | undefined;
  /** Puts new keys in force (the app's `replaceApiKeys`). */
  replace: (keys: Map<string, string>) => void;
  logger: Logger;
  /** Reads the keys again; `reloadApiKeys` (API_KEYS and the file API_KEYS_FILE names) unless a test gives its own. */
  read?: () => Map<string, string> | undefined;
}

/** How many keys of `from` are not in `to` for the same project: a key moved to another project counts. */
function countMissing(from: Map<string, string>, to: Map<string, string>): number {
  let missing = 0;
  for (const [key, project] of from) if (to.get(key) !== project) missing += 1;
  return missing;
}

/**
 * What SIGHUP does (server.ts): reads the keys again, so a key removed from API_KEYS_FILE is refused from
 * then on without a restart. A file that no longer parses leaves the keys as they were. The log counts what
 * changed, never a key: "0 added, 0 removed" after an edit says the file read is not the one edited (a bind
 * mount of a single file keeps the file it had when an editor saves a new one in its place).
 */
export function createKeyReload({ keys, replace, logger, read = reloadApiKeys }: KeyReloadOptions): () => void {
  let inForce = keys;
  return () => {
    if (inForce === undefined) {
      logger.warn('SIGHUP: no API_KEYS or API_KEYS_FILE (pass-through mode): no keys to read again');
      return;
    }
    let fresh: Map<string, string> | undefined;
    try {
      fresh = read();
      if (fresh === undefined) throw new ConfigError('API_KEYS and API_KEYS_FILE are no longer set');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      logger.error({ reason: err.message }, 'API keys not read again: the previous keys stay in force');
      return;
    }
    replace(fresh);
    logger.info({ keys: fresh.size, added: countMissing(fresh, inForce), removed: countMissing(inForce, fresh) }, 'API keys read again');
    inForce = fresh;
  };
}
