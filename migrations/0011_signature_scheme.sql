-- A webhook signs with HMAC (v1) or Ed25519 (v1a, Standard Webhooks' asymmetric scheme); every
-- existing webhook keeps v1.
ALTER TABLE `webhooks` ADD `signature_scheme` text DEFAULT 'v1' NOT NULL;
