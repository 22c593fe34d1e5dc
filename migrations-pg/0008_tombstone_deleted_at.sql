-- Tombstones learn when they were made, as SQLite's migration 0010 says why. Those already here count
-- from this upgrade: the default is evaluated once (now() is stable), so adding the column rewrites
-- no row; every write names the time from then on, and the default goes back to drizzle's 0.
ALTER TABLE "deleted_completions" ADD COLUMN "deleted_at" bigint DEFAULT floor(extract(epoch FROM now()))::bigint NOT NULL;--> statement-breakpoint
ALTER TABLE "deleted_completions" ALTER COLUMN "deleted_at" SET DEFAULT 0;--> statement-breakpoint
CREATE INDEX "deleted_completions_deleted_at_idx" ON "deleted_completions" USING btree ("deleted_at");
