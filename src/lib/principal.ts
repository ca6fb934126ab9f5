/** Who did something, as recorded on rows and (later) in the audit log. */
export interface Actor {
  type: "operator" | "user" | "api_key";
  id: string;
  name: string;
}

/** The authenticated caller. `permissions` are effective: wildcards are expanded by `hasPermission`. */
export interface Principal extends Actor {
  /** The account it acts in; for the operator, the `X-Account-Id` it named (checked by `requireAccount`). */
  accountId: string | null;
  permissions: string[];
  /** The user an impersonating key acts as (`X-Act-As`). */
  onBehalfOf?: { type: "user"; id: string };
}

export const toActor = ({ type, id, name }: Principal): Actor => ({ type, id, name });
