-- Customer portal sessions: a single-use link exchanged for a cookie session, limited to
-- capabilities in one account. Secrets by SHA-256 only.
CREATE TABLE `portal_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`capabilities` text NOT NULL,
	`theme` text NOT NULL,
	`return_url` text,
	`link_hash` text NOT NULL,
	`link_expires_at` integer NOT NULL,
	`opened_at` integer,
	`session_hash` text,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_link_idx` ON `portal_sessions` (`link_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_session_idx` ON `portal_sessions` (`session_hash`) WHERE session_hash IS NOT NULL;--> statement-breakpoint
CREATE INDEX `portal_sessions_account_idx` ON `portal_sessions` (`account_id`,`id`);--> statement-breakpoint
CREATE INDEX `portal_sessions_expiry_idx` ON `portal_sessions` (`expires_at`);