-- The typed event catalog: a JSON Schema (draft 2020-12) per event type, checked on publish when
-- `validate`; several examples, a group, and deprecated/archived flags.
ALTER TABLE `event_types` ADD `schema` text;--> statement-breakpoint
ALTER TABLE `event_types` ADD `examples` text;--> statement-breakpoint
ALTER TABLE `event_types` ADD `group_name` text;--> statement-breakpoint
ALTER TABLE `event_types` ADD `deprecated` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `event_types` ADD `archived` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `event_types` ADD `validate` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `event_types` ADD `updated_at` integer;