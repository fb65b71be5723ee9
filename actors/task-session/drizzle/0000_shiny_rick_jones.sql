CREATE TABLE `events` (
	`idx` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sender` text NOT NULL,
	`kind` text NOT NULL,
	`text` text,
	`payload` text,
	`at` text NOT NULL
);
