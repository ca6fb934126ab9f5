ALTER TABLE `webhooks` ADD `uid` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `channels` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `metadata` text;--> statement-breakpoint
CREATE UNIQUE INDEX `webhooks_uid_idx` ON `webhooks` (`account_id`,`uid`) WHERE uid IS NOT NULL;