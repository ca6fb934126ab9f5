-- An event's row holds its deliveries and their attempts (issue 34): a delivered webhook writes no
-- row of its own. `deliveries` is a JSON array of short-keyed states (times in ms after the event),
-- `attempts` a JSON array of the attempts while any delivery is pending; a final event's entity and
-- attempts are packed (deflate) into `packed` by Keyhook itself. `due_at` is the earliest time a
-- pending delivery is due (the sweeper's partial index); `rev` counts the row's changes (guards).
-- A rowid table, not WITHOUT ROWID: its rows (a kilobyte and more) would spill into overflow pages
-- of an index B-tree, four times the bytes (`npm run bench:history`); the key's index costs one row
-- written per event.
-- Every event, delivery and attempt moves with its ids: a delivery keeps its old id in `i`, and
-- `delivery_aliases` finds its event (new ids name their event). Hand-written: drizzle-kit cannot
-- move rows into JSON.
PRAGMA defer_foreign_keys = on;
--> statement-breakpoint
CREATE TABLE `__new_events` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`type` text NOT NULL,
	`entity` text,
	`idempotency_key` text,
	`created_at` integer NOT NULL,
	`content_deleted_at` integer,
	`deliveries` text DEFAULT '[]' NOT NULL,
	`attempts` text,
	`packed` blob,
	`due_at` integer,
	`rev` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_events` (`id`, `account_id`, `type`, `entity`, `idempotency_key`, `created_at`, `content_deleted_at`,
    `deliveries`, `attempts`, `due_at`)
  SELECT e.`id`, e.`account_id`, e.`type`, e.`entity`, e.`idempotency_key`, e.`created_at`, e.`content_deleted_at`,
    coalesce((SELECT json_group_array(json_patch('{}', json_object(
        'w', d.`webhook_id`, 's', d.`status`, 'n', d.`attempts`,
        'l', d.`last_attempt_at` - e.`created_at`,
        'x', CASE WHEN d.`status` = 'pending' THEN d.`next_attempt_at` - e.`created_at` END,
        'o', CASE WHEN d.`status` = 'pending' THEN d.`slot_at` - e.`created_at` END,
        'c', CASE WHEN d.`created_at` <> e.`created_at` THEN d.`created_at` - e.`created_at` END,
        'u', CASE WHEN d.`updated_at` <> coalesce(d.`last_attempt_at`, d.`created_at`) THEN d.`updated_at` - e.`created_at` END,
        't', CASE WHEN d.`is_test` THEN 1 END,
        'i', d.`id`)) ORDER BY d.`id`)
      FROM `deliveries` d WHERE d.`event_id` = e.`id`), '[]'),
    (SELECT json_group_array(json_patch('{}', json_object(
        'i', a.`id`,
        'd', (SELECT count(*) FROM `deliveries` p WHERE p.`event_id` = e.`id` AND p.`id` < a.`delivery_id`),
        'a', a.`attempt`, 'u', a.`url`, 'h', json(a.`request_headers`), 'b', a.`request_body`,
        's', a.`response_status`, 'r', json(a.`response_headers`), 'o', a.`response_body`, 'm', a.`duration_ms`,
        'f', a.`failure_reason`, 'k', a.`succeeded`, 't', a.`created_at` - e.`created_at`)) ORDER BY a.`id`)
      FROM `attempts` a JOIN `deliveries` d ON d.`id` = a.`delivery_id` WHERE d.`event_id` = e.`id`),
    (SELECT min(d.`next_attempt_at`) FROM `deliveries` d WHERE d.`event_id` = e.`id` AND d.`status` = 'pending')
  FROM `events` e;
--> statement-breakpoint
ALTER TABLE `webhooks` ADD `last_attempt_at` integer;
--> statement-breakpoint
ALTER TABLE `webhooks` ADD `last_attempt_status` integer;
--> statement-breakpoint
ALTER TABLE `webhooks` ADD `last_attempt_succeeded` integer;
--> statement-breakpoint
UPDATE `webhooks` SET (`last_attempt_at`, `last_attempt_status`, `last_attempt_succeeded`) = (
    SELECT a.`created_at`, a.`response_status`, a.`succeeded` FROM `attempts` a
     WHERE a.`webhook_id` = `webhooks`.`id` ORDER BY a.`id` DESC LIMIT 1),
  `last_success_at` = coalesce(max(`last_success_at`, (SELECT max(a.`created_at`) FROM `attempts` a
     WHERE a.`webhook_id` = `webhooks`.`id` AND a.`succeeded` = 1)), `last_success_at`, (SELECT max(a.`created_at`)
     FROM `attempts` a WHERE a.`webhook_id` = `webhooks`.`id` AND a.`succeeded` = 1))
  WHERE EXISTS (SELECT 1 FROM `attempts` a WHERE a.`webhook_id` = `webhooks`.`id`);
--> statement-breakpoint
CREATE TABLE `delivery_aliases` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `delivery_aliases` SELECT `id`, `event_id` FROM `deliveries`;
--> statement-breakpoint
DROP TABLE `attempts`;
--> statement-breakpoint
DROP TABLE `deliveries`;
--> statement-breakpoint
DROP TABLE `events`;
--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;
--> statement-breakpoint
CREATE INDEX `events_due_idx` ON `events` (`due_at`) WHERE due_at IS NOT NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX `events_idempotency_idx` ON `events` (`account_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;
