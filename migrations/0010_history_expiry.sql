-- Retention finds the history objects whose newest event is past it across all accounts: an index
-- on last_event_id alone, so the cron reads those rows instead of scanning the table every run.
CREATE INDEX `history_objects_expiry_idx` ON `history_objects` (`last_event_id`);