-- Custom (drizzle-kit generate --custom): what a group of stored creates raises when one of its ids is
-- taken, so that the group is one statement committing on its own, all or nothing, with no BEGIN and
-- COMMIT round trips around it (src/store/postgres/writes.ts, insertAllOrNone). SQLSTATE SC409 and the
-- id in DETAIL tell the store which create must retry under a fresh id.
CREATE FUNCTION "completion_id_taken"("id" text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'SC409', MESSAGE = 'a completion id of the group is taken', DETAIL = "id";
END
$$;
