CREATE TABLE `task_unread` (
	`task_id` text PRIMARY KEY NOT NULL,
	`users` text NOT NULL,
	`revision` integer NOT NULL
);
