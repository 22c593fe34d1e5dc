-- Custom (drizzle-kit generate --custom): list pages walk and check the filter tables by index-only scans,
-- which read the table too for every entry on a page not yet marked all-visible, as the newest rows
-- are until a vacuum passes: the first pages, desc, of the busiest shapes. By default autovacuum
-- visits an insert-only table once 20% of it is new (200,000 completions' pairs at 1M); here at 1%.
-- On a table with no dead rows such a vacuum only marks the new pages (PostgreSQL 14+ skips the
-- index pass), so it costs about what it saves.
ALTER TABLE "metadata" SET (autovacuum_vacuum_insert_scale_factor = 0.01);--> statement-breakpoint
ALTER TABLE "completion_models" SET (autovacuum_vacuum_insert_scale_factor = 0.01);
