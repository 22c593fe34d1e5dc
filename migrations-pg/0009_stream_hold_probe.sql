-- Custom (drizzle-kit generate --custom): a stream's held id (holdStreamId in src/store/postgres/index.ts) and a
-- completion stored under the same id by another instance at the same moment (a provider that gave one id to two
-- requests) could both win, and both clients were told one id: the hold's check read a snapshot in which the
-- other's row, not yet committed, was absent, and that row's trigger (0005) looked for the hold before it was
-- committed (11 of 25 such pairs in test/postgres-instance-races.test.ts). The hold now commits first, then asks
-- this function whether the id is stored or being stored: the probe goes through the completions' unique index,
-- which waits for any insert of the id still under way and then says whether it committed. An insert whose trigger
-- runs after the hold committed sees the hold and takes a fresh id; one whose trigger ran before has its row in the
-- index already, where the probe finds it. No lock is held across the two, so nothing can wait in a circle.
-- The probe row never stays: the insert's trigger refuses it (the hold is there), or the function does. A hold a
-- delete's tombstone replaced meanwhile (index.ts: a tombstone takes a hold's place) answers taken.
CREATE OR REPLACE FUNCTION "completion_id_stored_or_storing"("project" integer, "completion" text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO "completions" ("project_id", "id", "created", "model", "requested_model", "metadata", "body")
		VALUES ("project", "completion", 0, '', '', '{}', '') ON CONFLICT ("project_id", "id") DO NOTHING;
	IF FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'SC410', MESSAGE = 'the probe row is never kept';
	END IF;
	RETURN true;
EXCEPTION WHEN SQLSTATE 'SC409' OR SQLSTATE 'SC410' THEN
	-- Refused by the hold, unless a delete's tombstone took its place (the id was stored meanwhile, then deleted):
	-- then it is taken. The hold's `created` is HELD_POSITION (src/store/postgres/list-query.ts).
	RETURN NOT EXISTS (SELECT 1 FROM "deleted_completions" WHERE "project_id" = "project" AND "id" = "completion" AND "created" = -4611686018427387904);
END
$$;--> statement-breakpoint
-- A first version of this migration, on main for an hour and never released, locked "stripes" of ids in the insert's
-- trigger, which deadlocked: a database a build of that hour migrated gets 0005's trigger back (the same text as
-- there) and loses the stripe function. On every other database these two change nothing.
CREATE OR REPLACE FUNCTION "refuse_deleted_completion_ids"() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	"taken" text;
BEGIN
	SELECT n."id" INTO "taken" FROM "inserted" n
		JOIN "deleted_completions" d ON d."project_id" = n."project_id" AND d."id" = n."id" LIMIT 1;
	IF "taken" IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'SC409', MESSAGE = 'a completion id of the group is taken', DETAIL = "taken";
	END IF;
	RETURN NULL;
END
$$;--> statement-breakpoint
DROP FUNCTION IF EXISTS "completion_id_stripe"(integer, text);
