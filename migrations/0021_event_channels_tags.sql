ALTER TABLE `events` ADD `channels` text;--> statement-breakpoint
ALTER TABLE `events` ADD `tags` text;