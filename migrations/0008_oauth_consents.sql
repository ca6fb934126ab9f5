CREATE TABLE `oauth_consents` (
	`nonce` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `oauth_consents_expiry_idx` ON `oauth_consents` (`expires_at`);