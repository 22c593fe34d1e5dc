import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { int4Array, int8Array, textArray } from '../src/store/postgres/binary-arrays.ts';
import { leasePostgres, type PostgresLease } from './helpers/test-database.ts';

/**
 * The group commit's arrays travel in PostgreSQL's binary format: what the server reads from them
 * must be what node-postgres's text literals said, element for element.
 */
let lease: PostgresLease;
beforeAll(async () => {
  lease = await leasePostgres();
});
afterAll(async () => {
  await lease.release();
});

async function roundTrip(cast: string, binary: unknown, text: unknown): Promise<[unknown, unknown]> {
  const [row] = await lease.db.query<{ binary: unknown; text: unknown }>(`SELECT $1::${cast} AS binary, $2::${cast} AS text`, [binary, text]);
  return [row!.binary, row!.text];
}

describe('binary array parameters on PostgreSQL', () => {
  it('text[] arrives as the text literal does: quotes, backslashes, braces, unicode, replaced lone surrogates', async () => {
    const values = ['', 'plain', '{"a":"b\\\\c"}', 'NULL', ' spaced ', 'é e\u0301 東京 🎉', ',{}"\\', 'lone\ud800 \udfff', 'x'.repeat(70_000)];
    const [binary, text] = await roundTrip('text[]', textArray(values), values);
    expect(binary).toEqual(text);
    expect((binary as string[]).slice(0, 7)).toEqual(values.slice(0, 7));
  });

  it('int[] and int8[] arrive as their text literals do, negative and the largest safe integers included', async () => {
    const ints = [0, -0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 255, 65_536];
    expect(await roundTrip('int[]', int4Array(ints), ints)).toEqual([ints.map((v) => v + 0), ints.map((v) => v + 0)]);
    const bigs = [0, -1, 1, 2 ** 32, 2 ** 32 - 1, -(2 ** 32), -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -62_167_219_200, 253_402_300_799];
    const [binary, text] = await roundTrip('int8[]', int8Array(bigs), bigs);
    expect(binary).toEqual(text);
    // An int8[] comes back as its elements' texts from a server, as numbers from PGlite.
    expect((binary as unknown[]).map(Number)).toEqual(bigs);
  });

  it('empty arrays arrive empty', async () => {
    expect(await roundTrip('text[]', textArray([]), [])).toEqual([[], []]);
    expect(await roundTrip('int8[]', int8Array([]), [])).toEqual([[], []]);
  });

  it('a value binary cannot hold exactly goes as the array it was, for the server to judge as before', () => {
    expect(int4Array([2 ** 31])).toEqual([2 ** 31]);
    expect(int8Array([1.5])).toEqual([1.5]);
    expect(int8Array([2 ** 53])).toEqual([2 ** 53]);
  });
});
