-- Tombstones left by retention learn when their completion expired, as SQLite's migration 0010 says why (and a
-- stream's hold when it was taken, so one a crash leaves goes too); every other tombstone (an explicit delete,
-- those already here, and those an instance of the previous version writes during a rolling upgrade) is 0 and
-- kept for good. A constant default: adding the column rewrites no row.
ALTER TABLE "deleted_completions" ADD COLUMN "expired_at" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "deleted_completions_expired_at_idx" ON "deleted_completions" USING btree ("expired_at") WHERE "expired_at" > 0;
