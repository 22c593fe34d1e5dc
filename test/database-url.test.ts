import { describe, expect, it } from 'vitest';
import { hideDatabasePassword, isPostgresUrl, maskDatabaseUrl } from '../src/db/database-url.ts';

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
});
