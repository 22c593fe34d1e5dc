-- Custom (drizzle-kit generate --custom): a stream's held id (holdStreamId in src/store/postgres/index.ts) and a
-- completion stored under the same id by another instance at the same moment (a provider that gave one id to two
-- requests) could both win, and both clients were told one id: each statement's check reads a snapshot in which the
-- other's row, not yet committed, is absent, and the rows go into two tables, so no unique index stands between
-- them (11 of 25 such pairs in test/postgres-instance-races.test.ts). Now each side takes an advisory lock on the
-- id's stripe before it looks: an insert into completions a shared one (inserts never wait for one another), a hold
-- and the transaction that stores a held stream an exclusive one, taken before their own statements. Whichever
-- comes second then reads the first one's committed row. Stripes (64, by a hash of the project and the id) rather
-- than a lock an id, so that a bulk insert of thousands takes at most 64 of the server's shared lock slots.
CREATE OR REPLACE FUNCTION "completion_id_stripe"("project_id" integer, "id" text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT hashtext("project_id"::text || ':' || "id") & 63 $$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION "refuse_deleted_completion_ids"() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	"taken" text;
	"stripe" integer;
BEGIN
	FOR "stripe" IN SELECT DISTINCT completion_id_stripe(n."project_id", n."id") FROM "inserted" n ORDER BY 1 LOOP
		PERFORM pg_advisory_xact_lock_shared(83670, "stripe");
	END LOOP;
	-- After the locks: a VOLATILE function's query takes a fresh snapshot, so a hold committed meanwhile is seen.
	SELECT n."id" INTO "taken" FROM "inserted" n
		JOIN "deleted_completions" d ON d."project_id" = n."project_id" AND d."id" = n."id" LIMIT 1;
	IF "taken" IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'SC409', MESSAGE = 'a completion id of the group is taken', DETAIL = "taken";
	END IF;
	RETURN NULL;
END
$$;
