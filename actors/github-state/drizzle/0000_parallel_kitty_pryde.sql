CREATE TABLE `checks` (
	`sha` text NOT NULL,
	`name` text NOT NULL,
	`state` text NOT NULL,
	PRIMARY KEY(`sha`, `name`)
);
--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`event` text NOT NULL,
	`action` text,
	`status` text NOT NULL,
	`payload` text NOT NULL,
	`error` text,
	`received_at` integer NOT NULL,
	`processed_at` integer
);
--> statement-breakpoint
CREATE INDEX `deliveries_status_idx` ON `deliveries` (`status`,`received_at`);--> statement-breakpoint
CREATE TABLE `members` (
	`github_id` integer PRIMARY KEY NOT NULL,
	`login` text NOT NULL,
	`role` text NOT NULL,
	`generation` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `pulls` (
	`repo_id` integer NOT NULL,
	`number` integer NOT NULL,
	`url` text NOT NULL,
	`title` text NOT NULL,
	`state` text NOT NULL,
	`draft` integer NOT NULL,
	`head_ref` text NOT NULL,
	`head_sha` text NOT NULL,
	`review_decision` text,
	`task_id` text,
	`generation` integer NOT NULL,
	PRIMARY KEY(`repo_id`, `number`)
);
--> statement-breakpoint
CREATE INDEX `pulls_head_idx` ON `pulls` (`repo_id`,`head_ref`);--> statement-breakpoint
CREATE TABLE `repos` (
	`id` integer PRIMARY KEY NOT NULL,
	`full_name` text NOT NULL,
	`default_branch` text NOT NULL,
	`private` integer NOT NULL,
	`archived` integer DEFAULT false NOT NULL,
	`removed` integer DEFAULT false NOT NULL,
	`generation` integer NOT NULL
);
