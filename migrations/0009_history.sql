CREATE TABLE `history_objects` (
	`account_id` text NOT NULL,
	`key` text NOT NULL,
	`first_event_id` text NOT NULL,
	`last_event_id` text NOT NULL,
	`last_attempt_id` text,
	`webhook_ids` text NOT NULL,
	`events` integer NOT NULL,
	`bytes` integer NOT NULL,
	`archived_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `history_objects_last_idx` ON `history_objects` (`account_id`,`last_event_id`);--> statement-breakpoint
CREATE INDEX `history_objects_attempt_idx` ON `history_objects` (`account_id`,`last_attempt_id`);