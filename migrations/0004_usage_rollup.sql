CREATE TABLE `usage_daily` (
	`project_id` integer NOT NULL,
	`day` integer NOT NULL,
	`model` text NOT NULL,
	`requested_model` text NOT NULL,
	`completions` integer NOT NULL,
	`prompt_tokens` integer NOT NULL,
	`completion_tokens` integer NOT NULL,
	`total_tokens` integer NOT NULL,
	PRIMARY KEY(`project_id`, `day`, `model`, `requested_model`)
);
--> statement-breakpoint
ALTER TABLE `completions` ADD `prompt_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `completions` ADD `completion_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `completions` ADD `total_tokens` integer DEFAULT 0 NOT NULL;