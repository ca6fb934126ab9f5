CREATE TABLE `verification_counts` (
	`account_id` text NOT NULL,
	`hour` integer NOT NULL,
	`key_id` text NOT NULL,
	`outcome` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`account_id`, `hour`, `key_id`, `outcome`)
);
--> statement-breakpoint
CREATE INDEX `verification_counts_key_idx` ON `verification_counts` (`key_id`,`hour`);