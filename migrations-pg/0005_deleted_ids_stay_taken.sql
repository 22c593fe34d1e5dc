-- Custom (drizzle-kit generate --custom): an id deleted in a project stays taken (docs/decisions.md), even
-- when another instance stores it at the very moment of the delete. The insert's own check of
-- deleted_completions reads the statement's snapshot, taken before the delete committed; the insert then
-- waits on the row the delete removes and, once the delete commits, stores the new completion under the
-- deleted id. This trigger looks again after the insert, when any such wait is over: a VOLATILE function
-- takes a fresh snapshot for each query, so it sees the committed tombstone, and raises what
-- completion_id_taken() raises (0003): the store then retries the create under a fresh id.
CREATE FUNCTION "refuse_deleted_completion_ids"() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
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
CREATE TRIGGER "completions_refuse_deleted_ids" AFTER INSERT ON "completions"
	REFERENCING NEW TABLE AS "inserted" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_deleted_completion_ids"();
