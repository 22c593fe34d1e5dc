import { describe, expect, it } from 'vitest';
import { parse } from 'pg-connection-string';
import { hideDatabasePassword, isPostgresUrl, maskDatabaseUrl } from '../src/db/database-url.ts';
import { withLibpqSslModes } from '../src/db/postgres-client.ts';

describe('DATABASE_URL', () => {
  it('selects PostgreSQL for postgres:// and postgresql:// only', () => {
    expect(['postgres://h/db', 'postgresql://h/db', 'POSTGRES://h/db', './data/completions.db', ':memory:', 'file:x.db'].map(isPostgresUrl)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('masks the password and keeps the rest', () => {
    expect(maskDatabaseUrl('postgres://app:s%40cret@db:5432/completions?sslmode=require')).toBe(
      'postgres://app:***@db:5432/completions?sslmode=require',
    );
    expect(maskDatabaseUrl('postgres://db/completions')).toBe('postgres://db/completions');
    expect(maskDatabaseUrl('./data/completions.db')).toBe('./data/completions.db');
  });

  it('hides the password, raw or decoded, wherever a message repeats it', () => {
    const url = 'postgres://app:s%40cret@db:5432/completions';
    expect(hideDatabasePassword(`cannot reach ${url}: password s@cret rejected (s%40cret)`, url)).toBe(
      'cannot reach postgres://app:***@db:5432/completions: password *** rejected (***)',
    );
  });

  it("hides a short password only where it stands apart, so the message's words stay readable; a long one everywhere", () => {
    const short = 'postgres://audit:x@127.0.0.1:5432/audit';
    expect(hideDatabasePassword('3D000: database "audit" does not exist; password x, "x", x@host, (x)', short)).toBe(
      '3D000: database "audit" does not exist; password ***, "***", ***@host, (***)',
    );
    const long = 'postgres://app:hunter22@db/completions';
    expect(hideDatabasePassword('the password was hunter22, or xhunter22x', long)).toBe('the password was ***, or x***x');
  });

  it('masks and hides a password given as the parameter ?password=, which pg reads as the password too', () => {
    const url = 'postgres://app@db:5432/completions?sslmode=require&password=s%40cret+word&application_name=x';
    expect(parse(url).password).toBe('s@cret word');
    expect(maskDatabaseUrl(url)).toBe('postgres://app@db:5432/completions?sslmode=require&password=***&application_name=x');
    expect(maskDatabaseUrl('postgres://app:first@db/x?password=second')).toBe('postgres://app:***@db/x?password=***');
    expect(hideDatabasePassword(`cannot reach ${url}: password s@cret word rejected (s%40cret+word)`, url)).toBe(
      'cannot reach postgres://app@db:5432/completions?sslmode=require&password=***&application_name=x: password *** rejected (***)',
    );
  });

  it('masks a password parameter whose name is percent-encoded, which pg reads as the password all the same', () => {
    // URLSearchParams decodes names: pg connects with this password, and the listening line and a copy's mark printed it.
    for (const name of ['pass%77ord', '%70assword', 'pass%77or%64']) {
      const url = `postgres://app@db:5432/completions?${name}=s3cret-in-query&sslmode=require`;
      expect(parse(url).password).toBe('s3cret-in-query');
      expect(maskDatabaseUrl(url)).toBe(`postgres://app@db:5432/completions?${name}=***&sslmode=require`);
      expect(hideDatabasePassword(`cannot reach ${url}`, url)).toBe(`cannot reach postgres://app@db:5432/completions?${name}=***&sslmode=require`);
    }
    // The client key's passphrase, which libpq and psql read from the URL, is a secret as well.
    const withKeyPassphrase = 'postgres://app@db/x?sslmode=verify-full&sslpassword=key-phrase&sslkey=/k.pem';
    expect(maskDatabaseUrl(withKeyPassphrase)).toBe('postgres://app@db/x?sslmode=verify-full&sslpassword=***&sslkey=/k.pem');
    expect(hideDatabasePassword(`failed: key-phrase rejected for ${withKeyPassphrase}`, withKeyPassphrase)).toBe(
      'failed: *** rejected for postgres://app@db/x?sslmode=verify-full&sslpassword=***&sslkey=/k.pem',
    );
    // Another parameter whose value merely spells password= is left as written.
    expect(maskDatabaseUrl('postgres://app@db/x?application_name=password%3Dx')).toBe('postgres://app@db/x?application_name=password%3Dx');
  });

  it('reads sslmode as libpq does: require encrypts without verifying, verify-full verifies, disable is plain', () => {
    const ssl = (mode: string) => parse(withLibpqSslModes(`postgres://app:pw@db:5432/x?sslmode=${mode}`)).ssl;
    expect(ssl('disable')).toBe(false);
    expect(ssl('require')).toEqual({ rejectUnauthorized: false });
    expect(ssl('prefer')).toEqual({ rejectUnauthorized: false });
    expect(ssl('allow')).toEqual({ rejectUnauthorized: false });
    expect(ssl('no-verify')).toEqual({ rejectUnauthorized: false });
    expect(ssl('verify-full')).toEqual({});
    expect(parse(withLibpqSslModes('postgres://app:pw@db:5432/x')).ssl).toBeUndefined();
  });
});
