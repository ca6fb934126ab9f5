CREATE TABLE `identities` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`external_id` text NOT NULL,
	`meta` text,
	`ratelimits` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `identities_external_id_idx` ON `identities` (`account_id`,`external_id`);--> statement-breakpoint
CREATE TABLE `key_permissions` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`slug` text NOT NULL,
	`description` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `key_permissions_slug_idx` ON `key_permissions` (`account_id`,`slug`);--> statement-breakpoint
CREATE TABLE `key_roles` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`permissions` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `key_roles_name_idx` ON `key_roles` (`account_id`,`name`);--> statement-breakpoint
CREATE TABLE `ratelimit_overrides` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`namespace` text NOT NULL,
	`identifier` text NOT NULL,
	`limit` integer NOT NULL,
	`duration` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ratelimit_overrides_identifier_idx` ON `ratelimit_overrides` (`account_id`,`namespace`,`identifier`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `roles` text;--> statement-breakpoint
CREATE INDEX `api_keys_external_id_idx` ON `api_keys` (`account_id`,`external_id`) WHERE external_id IS NOT NULL;