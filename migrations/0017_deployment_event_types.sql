CREATE TABLE `deployment_event_types` (
	`name` text PRIMARY KEY NOT NULL,
	`description` text NOT NULL,
	`schemas` text,
	`group_name` text,
	`archived` integer DEFAULT false NOT NULL,
	`deprecated` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
