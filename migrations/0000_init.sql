CREATE TABLE `choices` (
	`completion_seq` integer NOT NULL,
	`idx` integer NOT NULL,
	`body` text NOT NULL,
	PRIMARY KEY(`completion_seq`, `idx`),
	FOREIGN KEY (`completion_seq`) REFERENCES `completions`(`seq`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `completion_models` (
	`project_id` integer NOT NULL,
	`model` text NOT NULL,
	`created` integer NOT NULL,
	`completion_id` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `completion_models_filter_idx` ON `completion_models` (`project_id`,`model`,`created`,`completion_id`);--> statement-breakpoint
CREATE TABLE `completions` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`id` text NOT NULL,
	`created` integer NOT NULL,
	`model` text NOT NULL,
	`requested_model` text NOT NULL,
	`metadata` text NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `completions_project_id_idx` ON `completions` (`project_id`,`id`);--> statement-breakpoint
CREATE INDEX `completions_project_created_idx` ON `completions` (`project_id`,`created`,`id`);--> statement-breakpoint
CREATE TABLE `deleted_completions` (
	`project_id` integer NOT NULL,
	`id` text NOT NULL,
	`created` integer NOT NULL,
	PRIMARY KEY(`project_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `input_messages` (
	`completion_seq` integer NOT NULL,
	`idx` integer NOT NULL,
	`body` text NOT NULL,
	PRIMARY KEY(`completion_seq`, `idx`),
	FOREIGN KEY (`completion_seq`) REFERENCES `completions`(`seq`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `metadata` (
	`project_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`created` integer NOT NULL,
	`completion_id` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `metadata_filter_idx` ON `metadata` (`project_id`,`key`,`value`,`created`,`completion_id`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `projects_name_unique` ON `projects` (`name`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
