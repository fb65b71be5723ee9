CREATE TABLE `repos` (
	`id` text PRIMARY KEY NOT NULL,
	`remote_url` text NOT NULL,
	`name` text NOT NULL,
	`default_branch` text,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `repos_remote_url_uq` ON `repos` (`remote_url`);--> statement-breakpoint
CREATE TABLE `runtime_issues` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`actor_type` text NOT NULL,
	`actor_id` text NOT NULL,
	`scope` text NOT NULL,
	`workflow` text NOT NULL,
	`step` text,
	`attempt` integer,
	`will_retry` integer NOT NULL,
	`message` text NOT NULL,
	`occurred_at` text NOT NULL,
	`resolved_at` text
);
--> statement-breakpoint
CREATE INDEX `runtime_issues_actor_idx` ON `runtime_issues` (`actor_id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`repo_id` text NOT NULL,
	`title` text NOT NULL,
	`branch` text NOT NULL,
	`state` text NOT NULL,
	`phase` text NOT NULL,
	`label` text NOT NULL,
	`message` text,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_repo_branch_uq` ON `tasks` (`repo_id`,`branch`);--> statement-breakpoint
CREATE INDEX `tasks_updated_at_idx` ON `tasks` (`updated_at`);