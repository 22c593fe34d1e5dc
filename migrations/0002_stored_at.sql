DROP INDEX `completions_created_idx`;--> statement-breakpoint
ALTER TABLE `completions` ADD `stored_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `completions_stored_at_idx` ON `completions` (`stored_at`);