-- Tombstones learn when they were made, as SQLite's migration 0010 says why. Those already here count
-- from this upgrade: the default, the clock's second, is evaluated once for them (now() is stable), so
-- adding the column rewrites no row. It stays the default: a tombstone an older version still running
-- beside this one writes (a rolling upgrade) names no time, and is let go a window later too, not at once.
ALTER TABLE "deleted_completions" ADD COLUMN "deleted_at" bigint DEFAULT floor(extract(epoch FROM now()))::bigint NOT NULL;--> statement-breakpoint
CREATE INDEX "deleted_completions_deleted_at_idx" ON "deleted_completions" USING btree ("deleted_at");
