/**
 * Settings a service writes on a database it stored nothing in: the health check's mark
 * (`/healthz`) and the secret that maps pass-through keys to projects (made by the first request
 * with a key, a list included). Neither is data: `copy` takes such a database as empty, and the
 * source's secret replaces the target's, which has mapped no completion to any project.
 */
/** The setting holding the secret that hashes pass-through keys into projects (src/auth.ts). */
export const PROJECT_HASH_SECRET = 'project_hash_secret';

export const UNSTORED_SETTINGS = ['health_checked_at', PROJECT_HASH_SECRET] as const;

/** `UNSTORED_SETTINGS` as an SQL list of literals (constants, nothing from outside). */
export const UNSTORED_SETTINGS_SQL = UNSTORED_SETTINGS.map((key) => `'${key}'`).join(', ');

/** The start of a mirror run's claim (src/mirror/mirror-lease.ts): a running process's, not data, so `copy` leaves it behind. */
export const MIRROR_CLAIM_PREFIX = 'mirror_lease:';

/**
 * The settings `copy` takes, as an SQL condition: not the health check's mark (the running instance's; the
 * target's own service writes its own), nor a mirror's claim (a copied one would hold off the target's next mirror).
 * The prefix is compared exactly with `substr`: `LIKE` would read its `_` as any character (and SQLite's
 * ignores ASCII case), so it would also leave behind keys that merely look like a claim's.
 */
export const COPIED_SETTINGS_SQL = `key <> 'health_checked_at' AND substr(key, 1, ${MIRROR_CLAIM_PREFIX.length}) <> '${MIRROR_CLAIM_PREFIX}'`;
