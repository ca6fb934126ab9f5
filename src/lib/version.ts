/** Sent in `User-Agent: Keyhook-Webhooks/<version>`; kept in step with package.json by a test. */
export const KEYHOOK_VERSION = "0.1.0";
