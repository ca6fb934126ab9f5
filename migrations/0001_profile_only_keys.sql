-- A key created with a profile and no scopes used to be stored with scopes NULL, which the hot path
-- read as "legacy full access": the profile added nothing and the key could do everything. Such a
-- key now holds exactly its profile's permissions (its own scopes are []). Each key changed here
-- gets an audit entry by the system actor, written before the change (it selects the same rows).
INSERT INTO `audit_log` (`id`, `account_id`, `actor_type`, `actor_id`, `actor_name`, `on_behalf_of`, `action`,
  `target_type`, `target_id`, `target_name`, `changes`, `ip`, `user_agent`, `request_id`, `created_at`)
SELECT
  -- newId("aud", now): 10 characters of the time in Keyhook's base32, then 14 random ones.
  'aud_' || substr(a.s, ((t.now >> 45) & 31) + 1, 1) || substr(a.s, ((t.now >> 40) & 31) + 1, 1) || substr(a.s, ((t.now >> 35) & 31) + 1, 1) || substr(a.s, ((t.now >> 30) & 31) + 1, 1) || substr(a.s, ((t.now >> 25) & 31) + 1, 1) || substr(a.s, ((t.now >> 20) & 31) + 1, 1) || substr(a.s, ((t.now >> 15) & 31) + 1, 1) || substr(a.s, ((t.now >> 10) & 31) + 1, 1) || substr(a.s, ((t.now >> 5) & 31) + 1, 1) || substr(a.s, ((t.now >> 0) & 31) + 1, 1) || lower(hex(randomblob(7))),
  k.`account_id`, 'system', 'keyhook', 'Keyhook', NULL, 'api_key.updated', 'api_key', k.`id`, k.`name`,
  '{"scopes":{"before":null,"after":[]}}', NULL, NULL, 'migration:0001_profile_only_keys', t.now
FROM `api_keys` AS k,
  (SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER) AS now) AS t,
  (SELECT '0123456789abcdefghjkmnpqrstvwxyz' AS s) AS a
WHERE k.`scopes` IS NULL AND k.`profile_id` IS NOT NULL;
--> statement-breakpoint
UPDATE `api_keys` SET `scopes` = '[]', `updated_at` = CAST(unixepoch('subsec') * 1000 AS INTEGER)
WHERE `scopes` IS NULL AND `profile_id` IS NOT NULL;
