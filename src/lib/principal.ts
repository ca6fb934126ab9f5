/** Who did something, as recorded on rows and in the audit log (`system`: Keyhook itself). */
export interface Actor {
  /**
   * `oauth`: an OAuth client (its id and name), for itself or on behalf of a user. `portal`: a
   * customer portal session (its id), acting in one account within its capabilities.
   */
  type: "operator" | "user" | "api_key" | "oauth" | "portal" | "system";
  id: string;
  name: string;
}

/** The authenticated caller. `permissions` are effective: wildcards are expanded by `hasPermission`. */
export interface Principal extends Actor {
  type: "operator" | "user" | "api_key" | "oauth" | "portal";
  /** The account it acts in; for the operator, the `X-Account-Id` it named (checked by `requireAccount`). */
  accountId: string | null;
  permissions: string[];
  /** The user an impersonating key acts as (`X-Act-As`), or who authorized an OAuth client. */
  onBehalfOf?: { type: "user"; id: string };
}

export const toActor = ({ type, id, name }: Principal): Actor => ({ type, id, name });
