ALTER TABLE `accounts` ADD `external_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_external_id_idx` ON `accounts` (`external_id`) WHERE external_id IS NOT NULL;