CREATE TABLE `api_idempotency` (
	`key` text PRIMARY KEY NOT NULL,
	`request` text NOT NULL,
	`status` integer,
	`body` text,
	`created_at` integer NOT NULL
);
