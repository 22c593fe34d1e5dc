-- Tombstones left by retention learn when their completion expired: each goes a window after (src/retention.ts),
-- so a steady window keeps the file from growing. A cursor that old, or an id reused that late, is past anything
-- retention keeps. Every other tombstone is 0 and kept for good: an explicit delete (a mirror or an import must
-- never bring it back), and every tombstone already here, which cannot tell one kind from the other.
ALTER TABLE `deleted_completions` ADD `expired_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `deleted_completions_expired_at_idx` ON `deleted_completions` (`expired_at`) WHERE `expired_at` > 0;
