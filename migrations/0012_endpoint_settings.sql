-- Per-endpoint settings: custom headers (sealed), a throttle in deliveries a second, a timeout;
-- and a delivery's reserved send slot (the endpoint's pacer: throttles and replays).
ALTER TABLE `deliveries` ADD `slot_at` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `headers` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `throttle` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `timeout_ms` integer;