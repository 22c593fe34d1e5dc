import { createHmac, hash } from 'node:crypto';
import { ApiError } from './errors.ts';
import type { Store } from './store/index.ts';
import { PROJECT_HASH_SECRET } from './store/unstored-settings.ts';

/** Who is calling: the project whose completions they see, and how to authenticate upstream for them. */
export interface Tenant {
  project: string;
  /** The `Authorization` header to send upstream, or undefined to send none. */
  upstreamAuthorization: string | undefined;
}

export interface AuthOptions {
  /** key -> project (`API_KEYS` mode); undefined for pass-through mode. */
  apiKeys: Map<string, string> | undefined;
  upstreamApiKey: string | undefined;
  /** The per-database secret that turns a pass-through key into a project name. */
  projectHashSecret: string;
}

const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

/**
 * The most stars a mask shows. OpenAI stars every hidden character, and that is kept for any key it issues (a
 * project key, 164 characters, shows 155); past this, a key of thousands of characters (a file pasted as the key,
 * a header stuffed on purpose) would come back in the 401 as as many stars, every time it is sent.
 */
const MAX_MASK_STARS = 200;

/** OpenAI's way of showing a wrong key: a short prefix and the last four characters, the rest starred (at most MAX_MASK_STARS). */
export function maskKey(key: string): string {
  // By characters, not UTF-16 units, where a key holds any past U+FFFF: a cut through an emoji left half of it.
  const chars = /[\ud800-\udfff]/.test(key) ? Array.from(key) : key;
  if (chars.length <= 8) return '*'.repeat(chars.length);
  const prefixLength = Math.min(5, chars.length - 8);
  const kept = (from: number, to?: number) => (typeof chars === 'string' ? chars.slice(from, to) : chars.slice(from, to).join(''));
  return kept(0, prefixLength) + '*'.repeat(Math.min(chars.length - prefixLength - 4, MAX_MASK_STARS)) + kept(-4);
}

/**
 * A key as its sender typed it, for the 401's mask: Node reads a header's bytes as Latin-1, so a key with UTF-8
 * characters (`sk-ålice`) came back as `sk-Ã¥*****`. Bytes that are no UTF-8 stay as they were read.
 */
function readableKey(key: string): string {
  if (!/[^\x00-\x7f]/.test(key)) return key;
  const bytes = Buffer.from(key, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : key;
}

/**
 * The per-database secret that hashes pass-through keys into projects, created
 * on first use. Kept in the database, so a key maps to the same project after a
 * restart, and the command-line tool finds a key's project as the service does.
 */
export function loadProjectHashSecret(store: Pick<Store, 'getOrCreateSetting'>): Promise<string> {
  return store.getOrCreateSetting(PROJECT_HASH_SECRET, () => crypto.randomUUID() + crypto.randomUUID());
}

/** A key's SHA-256 digest, the only form in which keys are looked up or cached. One-shot: no Hash object per request. */
function digest(key: string): string {
  return hash('sha256', key, 'base64');
}

/**
 * The bearer key of an Authorization header, or undefined when there is none or it is not Bearer. Everything after
 * the scheme is the key, spaces inside it included, as OpenAI reads it ("Incorrect API key provided: You are ***"):
 * `Bearer sk-mine extra` is a wrong key, not a missing one.
 */
function bearerKey(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer[ \t]+([^ \t](?:.*[^ \t])?)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** Pass-through keys whose project is remembered; past this, the oldest is forgotten (its next request hashes it again). */
const PROJECT_CACHE_SIZE = 10_000;

/**
 * Returns the function that maps an Authorization header to a tenant, or throws
 * OpenAI's 401.
 *
 * Keys are looked up by their SHA-256 digest, never compared as they are: a
 * guess one character away from a key has a digest unrelated to the key's, so
 * the time a lookup takes says nothing of how close a guess came. In
 * pass-through mode the project (an HMAC of the key) is remembered by digest
 * for the last PROJECT_CACHE_SIZE keys seen, so a client's requests after its
 * first cost a digest, not an HMAC.
 */
export type Authenticate = (authorization: string | undefined) => Tenant;

export function createAuthenticator(options: AuthOptions): Authenticate {
  const upstreamFromConfig = options.upstreamApiKey === undefined ? undefined : `Bearer ${options.upstreamApiKey}`;
  const configured = options.apiKeys ? new Map([...options.apiKeys].map(([key, project]) => [digest(key), project])) : undefined;
  const passThroughProjects = new Map<string, string>();

  /** Pass-through: the project is a keyed hash of the key, never the key itself. */
  const passThroughProject = (key: string, keyDigest: string): string => {
    let project = passThroughProjects.get(keyDigest);
    if (project === undefined) {
      project = createHmac('sha256', options.projectHashSecret).update(key).digest('base64url');
      if (passThroughProjects.size >= PROJECT_CACHE_SIZE) passThroughProjects.delete(passThroughProjects.keys().next().value!);
      passThroughProjects.set(keyDigest, project);
    }
    return project;
  };

  return (authorization) => {
    const key = bearerKey(authorization);
    if (key === undefined) throw new ApiError(401, NO_KEY_MESSAGE, 'invalid_request_error');
    const keyDigest = digest(key);

    if (!configured) return { project: passThroughProject(key, keyDigest), upstreamAuthorization: upstreamFromConfig ?? `Bearer ${key}` };

    const project = configured.get(keyDigest);
    if (project === undefined) {
      throw new ApiError(
        401,
        `Incorrect API key provided: ${maskKey(readableKey(key))}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error',
        null,
        'invalid_api_key',
      );
    }
    return { project, upstreamAuthorization: upstreamFromConfig };
  };
}
