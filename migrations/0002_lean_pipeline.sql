-- The webhook pipeline writes half the D1 rows it did (D1 bills every row and every index entry
-- written). Deliveries and attempts become WITHOUT ROWID tables keyed by what they are looked up by,
-- so an insert writes no separate primary-key index; the due index holds pending deliveries only;
-- the webhook index of deliveries leaves out `status`; attempts no longer store the request body
-- (it is rebuilt from the event); an event without an idempotency key writes no index entry; the
-- webhook's "last attempt" is read from its attempts instead of being written on every delivery.
-- drizzle-kit cannot express WITHOUT ROWID: this file is hand-written; schema.ts says the same.
PRAGMA defer_foreign_keys = on;
--> statement-breakpoint
CREATE TABLE `__new_attempts` (
	`id` text NOT NULL,
	`account_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`delivery_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`attempt` integer NOT NULL,
	`url` text NOT NULL,
	`request_headers` text NOT NULL,
	`request_body` text,
	`response_status` integer,
	`response_headers` text,
	`response_body` text,
	`duration_ms` integer NOT NULL,
	`failure_reason` text,
	`succeeded` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`webhook_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_attempts` SELECT `id`, `account_id`, `webhook_id`, `delivery_id`, `event_id`, `event_type`, `attempt`,
  `url`, `request_headers`, `request_body`, `response_status`, `response_headers`, `response_body`, `duration_ms`,
  `failure_reason`, `succeeded`, `created_at` FROM `attempts`;
--> statement-breakpoint
DROP TABLE `attempts`;
--> statement-breakpoint
ALTER TABLE `__new_attempts` RENAME TO `attempts`;
--> statement-breakpoint
CREATE TABLE `__new_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`event_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`last_attempt_at` integer,
	`is_test` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_deliveries` SELECT `id`, `account_id`, `event_id`, `webhook_id`, `status`, `attempts`, `next_attempt_at`,
  `last_attempt_at`, `is_test`, `created_at`, `updated_at` FROM `deliveries`;
--> statement-breakpoint
DROP TABLE `deliveries`;
--> statement-breakpoint
ALTER TABLE `__new_deliveries` RENAME TO `deliveries`;
--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_event_webhook_idx` ON `deliveries` (`event_id`,`webhook_id`);
--> statement-breakpoint
CREATE INDEX `deliveries_due_idx` ON `deliveries` (`next_attempt_at`) WHERE status = 'pending';
--> statement-breakpoint
CREATE INDEX `deliveries_webhook_idx` ON `deliveries` (`webhook_id`,`created_at`);
--> statement-breakpoint
DROP INDEX `events_idempotency_idx`;
--> statement-breakpoint
CREATE UNIQUE INDEX `events_idempotency_idx` ON `events` (`account_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;
--> statement-breakpoint
ALTER TABLE `accounts` ADD `webhooks_version` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE `webhooks` DROP COLUMN `last_attempt_at`;
--> statement-breakpoint
ALTER TABLE `webhooks` DROP COLUMN `last_attempt_status`;
--> statement-breakpoint
ALTER TABLE `webhooks` DROP COLUMN `last_attempt_succeeded`;
