import { useState } from "hono/jsx/dom";
import { KEYHOOK_PERMISSIONS } from "../lib/permissions";
import { data, keyhook, type Schemas } from "./api";
import { CopySecretDialog, useList, When } from "./components";

type OperatorKey = Schemas["OperatorKey"];
type OnError = (text: string, retry?: () => void) => void;

const path = (id: string) => ({ params: { path: { id } } });
const OPERATOR_SCOPES = ["operator:read", "operator:write"];

/**
 * The operator's keys: deployment-level credentials beside the operator token (a Svix client's
 * token, a CI job's) — create one with its scopes, see when each was last used, revoke one.
 */
export function OperatorKeysSection(props: { onError: OnError }) {
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const { items: keys, act } = useList(
    async () =>
      (await data(keyhook().GET("/v1/deployment/operator-keys", { params: { query: { limit: 100 } } }))).operatorKeys,
    "the operator keys",
    props.onError,
  );

  const create = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const chosen = form.getAll("scopes").map(String);
    const body = { name: String(form.get("name") ?? "").trim(), scopes: chosen.length > 0 ? chosen : ["*"] };
    await act(async () => {
      const created = await data(keyhook().POST("/v1/deployment/operator-keys", { body }));
      setCreating(false);
      setSecret(created.key);
    });
  };

  const revoke = (k: OperatorKey) => {
    if (!confirm(`Revoke ${k.name}? Every request made with it is refused from now on.`)) return;
    act(() => data(keyhook().DELETE("/v1/deployment/operator-keys/{id}", path(k.id))));
  };

  return (
    <section aria-labelledby="operator-keys-heading" class="spaced">
      <div class="section-head">
        <h2 id="operator-keys-heading">Operator keys</h2>
        {!creating && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Create operator key
          </button>
        )}
      </div>
      <p class="muted">
        Credentials for the whole deployment, beside the operator token: the token of a Svix client, a CI job. Each has
        its scopes and can be revoked; every change is in the deployment's log.
      </p>
      {creating && (
        <form class="panel" aria-label="Create an operator key" onSubmit={create}>
          <label for="operator-key-name">Name</label>
          <input id="operator-key-name" name="name" required maxLength={100} placeholder="Svix client in billing" />
          <fieldset>
            <legend>Scopes (none checked: full access)</legend>
            {[...OPERATOR_SCOPES, ...KEYHOOK_PERMISSIONS].map((p) => (
              <label class="check">
                <input type="checkbox" name="scopes" value={p} /> {p}
              </label>
            ))}
          </fieldset>
          <div class="form-actions">
            <button type="button" onClick={() => setCreating(false)}>
              Cancel
            </button>
            <button type="submit" class="primary">
              Create
            </button>
          </div>
        </form>
      )}
      {keys === null ? (
        <p class="muted">Loading operator keys...</p>
      ) : keys.length === 0 ? (
        <p class="empty">No operator keys yet</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>
                  {k.name} <div class="muted">by {k.createdBy.name}</div>
                </td>
                <td>
                  <code>
                    {k.prefix}…{k.last4}
                  </code>
                </td>
                <td>{k.scopes.join(", ")}</td>
                <td>
                  <When iso={k.lastUsedAt} />
                </td>
                <td class={k.status === "active" ? "status-active" : "status-disabled"}>
                  {k.status === "active" ? "Active" : k.status === "revoked" ? "Revoked" : "Expired"}
                </td>
                <td class="row-actions">
                  {k.status !== "revoked" && (
                    <button type="button" class="danger" aria-label={`Revoke ${k.name}`} onClick={() => revoke(k)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {secret && (
        <CopySecretDialog
          title="Copy the operator key"
          label="Operator key"
          secret={secret}
          onDone={() => setSecret(null)}
        />
      )}
    </section>
  );
}
