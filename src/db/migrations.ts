/**
 * The newest migration this Worker's code needs (`migrations/`): `keyhook doctor` finds it in D1's
 * `d1_migrations` or names it. test/doctor.test.ts holds it to the folder's last file.
 */
export const LATEST_MIGRATION = "0024_unkey_identities_roles.sql";
