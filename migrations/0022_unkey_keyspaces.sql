CREATE TABLE `keyspaces` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	`deleted_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `keyspaces_account_idx` ON `keyspaces` (`account_id`,`id`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `keyspace_id` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `external_id` text;