-- Custom (drizzle-kit generate --custom): long values (a completion's search text and keys, body and
-- choices, a long input message) compressed with lz4 instead of pglz when they are stored, where the
-- server was built with lz4 (PostgreSQL 14+; Debian's and the official images' are). Under stored
-- creates pglz_compress was 3-6% of PostgreSQL's CPU; 20,000 of the bench's rows took ~190 ms to
-- insert with lz4 against ~285 ms with pglz, at the same size on disk (bench/README.md, "PostgreSQL
-- creates, sixth round"). lz4 also reads back faster. Values stored before stay as they are (both
-- read alike); a server without lz4 keeps pglz, as `default_toast_compression` lists what it has.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
		ALTER TABLE "completions" ALTER COLUMN "body" SET COMPRESSION lz4, ALTER COLUMN "choices" SET COMPRESSION lz4,
			ALTER COLUMN "metadata" SET COMPRESSION lz4, ALTER COLUMN "search_keys" SET COMPRESSION lz4,
			ALTER COLUMN "search_text" SET COMPRESSION lz4;
		ALTER TABLE "input_messages" ALTER COLUMN "body" SET COMPRESSION lz4;
	END IF;
END
$$;
