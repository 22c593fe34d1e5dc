/**
 * What DATABASE_URL names: a PostgreSQL server (`postgres://` or
 * `postgresql://`) or, for anything else, a SQLite file. Also the one place
 * that hides the URL's password: it must never reach a log line or an error.
 */

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Why a PostgreSQL URL cannot be used, or undefined when it can (or is not a PostgreSQL URL). */
export function postgresUrlProblem(url: string): string | undefined {
  if (!isPostgresUrl(url)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL itself is not repeated: it may hold a password.
    if (/^postgres(ql)?:\/\/[^/]*@\//i.test(url)) {
      return 'a postgres:// URL with a user needs a host (for a Unix socket: postgres://user:password@localhost/db?host=/var/run/postgresql)';
    }
    return 'not a valid postgres:// URL (a password with @, :, /, ?, # or % must be percent-encoded)';
  }
  if (parsed.hostname === '' && !parsed.searchParams.has('host')) return 'a postgres:// URL needs a host';
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) return `sslmode must be one of ${SSL_MODES.join(', ')}`;
  return undefined;
}

/** The URL with its password replaced by `***` (the user name stays: it helps and is no secret). */
export function maskDatabaseUrl(url: string): string {
  if (!isPostgresUrl(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^/@]*?):[^/@]*@/, '//$1:***@');
  }
}

/** `text` with every occurrence of the URL's password (raw or percent-decoded) replaced by `***`. */
export function hideDatabasePassword(text: string, url: string): string {
  if (!isPostgresUrl(url)) return text;
  let password: string;
  try {
    password = new URL(url).password;
  } catch {
    return text.replaceAll(url, maskDatabaseUrl(url));
  }
  if (password === '') return text;
  let hidden = text.replaceAll(url, maskDatabaseUrl(url)).replaceAll(password, '***');
  const decoded = safeDecode(password);
  if (decoded !== password && decoded !== '') hidden = hidden.replaceAll(decoded, '***');
  return hidden;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
