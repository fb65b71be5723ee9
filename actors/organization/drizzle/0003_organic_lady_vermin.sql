ALTER TABLE `repos` ADD `source` text DEFAULT 'git' NOT NULL;--> statement-breakpoint
ALTER TABLE `repos` ADD `full_name` text;--> statement-breakpoint
ALTER TABLE `repos` ADD `private` integer;--> statement-breakpoint
ALTER TABLE `repos` ADD `hidden` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `pull_request` text;