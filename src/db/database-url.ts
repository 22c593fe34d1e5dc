/**
 * What DATABASE_URL names: a PostgreSQL server (`postgres://` or
 * `postgresql://`) or, for anything else, a SQLite file. Also the one place
 * that hides the URL's password: it must never reach a log line or an error.
 */

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

const NOT_ENCODED = 'not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)';

/**
 * A URL's scheme: two characters or more (`C:/data` is a drive) followed by a slash (`mysql://`, a mistyped
 * `postgres:/`), or a database's name followed by a colon (`postgress:u:pw@host/db`, `sqlite:x.db`, `file:`,
 * which this SQLite build does not read as a URI: `file:x.db?mode=rwc` was a file of that name).
 */
const URL_SCHEME = /^([a-z][a-z0-9+.-]+:)\/|^((?:postgres|postgresql|postgress|pg|sqlite|sqlite3|mysql|mariadb|file):)/i;

/**
 * Whether pg-connection-string, which pg parses the URL with, can decode its user, password and database name: its
 * first steps, as its `parse` takes them (the rest of `parse` reads certificate files, and warns of SSL modes on
 * standard error). A URL holding a space or a `%` that begins no escape is encoded whole again first, and then only
 * escapes of two decimal digits are decoded.
 */
function driverDecodes(url: string): boolean {
  const text = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
  try {
    const parsed = new URL(text);
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
    decodeURI(parsed.pathname);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why a DATABASE_URL cannot be used, or undefined when it can: a PostgreSQL URL that does not parse or lacks
 * a host, or a URL of another scheme. Anything else is a SQLite file's path.
 */
export function databaseUrlProblem(url: string): string | undefined {
  if (!isPostgresUrl(url)) {
    // Taken for a path, `postgress://user:secret@host/db` created folders named after the password and
    // served from a SQLite file in them, the password in the log's `listening` line.
    const match = URL_SCHEME.exec(url);
    const scheme = match?.[1] ?? match?.[2];
    if (scheme !== undefined) {
      return `unsupported scheme '${scheme}': give a postgres:// (or postgresql://) URL, or a SQLite file's path such as ./data/completions.db`;
    }
    // Quoted, spaced, or a URL further in (`jdbc:postgresql://...`): no file is meant, and its folders would be
    // named after what follows, a password included.
    if (url !== url.trim() || /^["']|["']$/.test(url) || url.includes('://')) {
      return "not a SQLite file's path nor a postgres:// URL (quotes, spaces around it, or a URL inside it): give a postgres:// (or postgresql://) URL, or a path such as ./data/completions.db";
    }
    return undefined;
  }
  // A `#` starts a fragment, which pg ignores: written in a password (`u:p@ss#w@host/db`) it parses as a valid
  // URL on the wrong host, and the start then retried for its whole timeout, naming the rest of the password in
  // every warning. No connection needs a fragment, so any `#` is refused here, before a connection is tried.
  if (url.includes('#')) return NOT_ENCODED;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL itself is not repeated: it may hold a password.
    if (/^postgres(ql)?:\/\/[^/]*@\//i.test(url)) {
      return 'a postgres:// URL with a user needs a host (for a Unix socket: postgres://user:password@localhost/db?host=/var/run/postgresql)';
    }
    return NOT_ENCODED;
  }
  if (parsed.hostname === '' && !parsed.searchParams.has('host')) return 'a postgres:// URL needs a host';
  // An escape that is not UTF-8 text in the user, password or database name (`%ff`) stopped the start with the
  // driver's bare "URI malformed", said as the server refusing the connection. (A `%` that begins no escape is read
  // as written, each `%` a `%`: such passwords work.)
  if (!driverDecodes(url)) {
    return 'not a valid postgres:// URL (an escape in the user, password or database name that is not UTF-8 text, as %ff: %25 is a %)';
  }
  // A password's unencoded `/` after digits (`app:8412/s3cret@host/db`) parses as a host `app`, port 8412, and a
  // database name holding the rest: refused, as the masking would not know that part for the password. With a user
  // before the host, an `@` in the database's name is the driver's as it is.
  if (parsed.pathname.includes('@') && !/^postgres(ql)?:\/\/[^/]*@/i.test(url)) return NOT_ENCODED;
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) return `sslmode must be one of ${SSL_MODES.join(', ')}`;
  return undefined;
}

/**
 * The query parameters that carry a secret: pg-connection-string copies every parameter into the
 * connection's options, so `postgres://app@db/x?password=...` connects with it as surely as `app:...@db`;
 * `sslpassword` (the client key's passphrase) is one libpq and psql read, so an operator may well write it.
 */
const SECRET_PARAMS: ReadonlySet<string> = new Set(['password', 'sslpassword']);

function hasSecretParam(parsed: URL): boolean {
  return [...SECRET_PARAMS].some((name) => parsed.searchParams.has(name));
}
/**
 * Each parameter as written in a query string (`$1` the separator, `$2` the name, `$3` the value). The name is
 * compared decoded, as URLSearchParams (and so pg) reads it: `?pass%77ord=...` is the password too.
 */
const QUERY_PARAM = /([?&])([^=&#]*)=([^&#]*)/g;

/** A parameter's name as URLSearchParams decodes it (`+` a space, escapes decoded). */
function paramName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}

/** The values of the secret parameters as written in `text` (a query string or a whole URL). */
function passwordParamValues(text: string): string[] {
  return [...text.matchAll(QUERY_PARAM)].filter((match) => SECRET_PARAMS.has(paramName(match[2]!))).map((match) => match[3]!);
}

/** The URL with its password replaced by `***`, in the user info and in a `password` parameter (the user name stays: it helps and is no secret). */
export function maskDatabaseUrl(url: string): string {
  if (!isPostgresUrl(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password === '' && !hasSecretParam(parsed)) return url;
    if (parsed.password !== '') parsed.password = '***';
    if (hasSecretParam(parsed)) parsed.search = maskedPasswordParams(parsed.search);
    return parsed.toString();
  } catch {
    return maskedPasswordParams(url.replace(/\/\/([^/@]*?):[^/@]*@/, '//$1:***@'));
  }
}

/** `text` (a query string or a whole URL) with the value of every `password=` parameter replaced by `***`, the rest as written. */
function maskedPasswordParams(text: string): string {
  return text.replace(QUERY_PARAM, (whole, separator: string, name: string) => (SECRET_PARAMS.has(paramName(name)) ? `${separator}${name}=***` : whole));
}

/** Every spelling of the URL's passwords a message may repeat: as written in the URL, and percent-decoded. */
function passwordsOf(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const spellings = new Set([parsed.password, safeDecode(parsed.password), ...[...SECRET_PARAMS].flatMap((name) => parsed.searchParams.getAll(name))]);
  for (const value of passwordParamValues(parsed.search)) spellings.add(value);
  spellings.delete('');
  // Longest first: a password that holds another is hidden whole.
  return [...spellings].sort((a, b) => b.length - a.length);
}

/**
 * Below this length a password is hidden only where it stands apart from letters and digits: a
 * short one is also part of the words of the message that hides it (`x` made PostgreSQL's
 * `does not exist` read `does not e***ist`). A longer one is hidden wherever it is.
 */
const WORD_SAFE_PASSWORD_LENGTH = 8;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` with every occurrence of the URL's passwords (raw or percent-decoded) replaced by `***`. */
export function hideDatabasePassword(text: string, url: string): string {
  if (!isPostgresUrl(url)) return text;
  let hidden = text.replaceAll(url, maskDatabaseUrl(url));
  for (const password of passwordsOf(url)) {
    hidden =
      password.length >= WORD_SAFE_PASSWORD_LENGTH
        ? hidden.replaceAll(password, '***')
        : hidden.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(password)}(?![\\p{L}\\p{N}])`, 'gu'), '***');
  }
  return hidden;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
