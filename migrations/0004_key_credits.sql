ALTER TABLE `api_keys` ADD `credits_remaining` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `credits_refill_interval` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `credits_refill_amount` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `credits_refill_day` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `credits_refilled_at` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `credits_low_threshold` integer;