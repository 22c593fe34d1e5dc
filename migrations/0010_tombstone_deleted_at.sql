-- Tombstones learn when they were made: with retention on, one goes a window after it (src/retention.ts),
-- so a steady window keeps the file from growing. A cursor that old, or an id reused that late, is past
-- anything retention keeps. Tombstones already here count from this upgrade.
ALTER TABLE `deleted_completions` ADD `deleted_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `deleted_completions` SET `deleted_at` = unixepoch();--> statement-breakpoint
CREATE INDEX `deleted_completions_deleted_at_idx` ON `deleted_completions` (`deleted_at`);
