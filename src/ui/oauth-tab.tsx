import { useState } from "hono/jsx/dom";
import { KEYHOOK_PERMISSIONS } from "../lib/permissions";
import { data, keyhook, message, type Schemas } from "./api";
import { CopySecretDialog, useList, When } from "./components";

type Client = Schemas["OAuthClient"];
type Grant = Schemas["OAuthGrant"];
type OnError = (text: string, retry?: () => void) => void;

/** OAuth apps: the account's clients — register, disable, rotate the secret, delete. */
const path = (id: string) => ({ params: { path: { id } } });

/**
 * A list of clients loaded with `fetchList`, and `act`: a change, then the list again (a failure
 * goes to the banner; a failed load offers Retry).
 */
function useClients(fetchList: () => Promise<{ clients: Client[] }>, what: string, onError: OnError) {
  const { items, load, act } = useList(async () => (await fetchList()).clients, what, onError);
  return { clients: items, load, act };
}

/** Clients as a table: name (with `kind`) and redirect URIs, client ID, scopes, status, `actions`. */
function ClientsTable(props: {
  clients: Client[] | null;
  what: string;
  empty: string;
  kind: (c: Client) => string;
  actions: (c: Client) => unknown;
}) {
  if (props.clients === null) return <p class="muted">Loading {props.what}...</p>;
  if (props.clients.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Client ID</th>
          <th scope="col">Scopes</th>
          <th scope="col">Status</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {props.clients.map((c) => (
          <tr key={c.id}>
            <td>
              {c.name} <span class="muted">({props.kind(c)})</span>
              {c.redirectUris.map((u) => (
                <div class="muted">{u}</div>
              ))}
            </td>
            <td>
              <code>{c.id}</code>
              {c.secretLast4 && <div class="muted">secret …{c.secretLast4}</div>}
            </td>
            <td>{c.scopes.join(", ")}</td>
            <td class={c.enabled ? "status-active" : "status-disabled"}>{c.enabled ? "Active" : "Disabled"}</td>
            <td class="row-actions">{props.actions(c)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function OAuthAppsTab(props: { onError: OnError }) {
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ clientId: string; secret: string } | null>(null);
  const { clients, load, act } = useClients(
    () => data(keyhook().GET("/v1/oauth-clients", { params: { query: { limit: 100 } } })),
    "the OAuth apps",
    props.onError,
  );

  return (
    <section aria-labelledby="oauth-apps-heading">
      <div class="section-head">
        <h2 id="oauth-apps-heading">OAuth apps</h2>
        {!creating && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Register app
          </button>
        )}
      </div>
      <p class="muted">
        Integrations that act for your users with their consent (authorization code with PKCE), or as themselves (client
        credentials).
      </p>
      {creating && (
        <NewClientForm
          onCancel={() => setCreating(false)}
          onCreated={(created) => {
            setCreating(false);
            if (created.clientSecret) setSecret({ clientId: created.client.id, secret: created.clientSecret });
            load();
          }}
          onError={props.onError}
        />
      )}
      <ClientsTable
        clients={clients}
        what="OAuth apps"
        empty="No OAuth apps yet"
        kind={(c) => c.type}
        actions={(c) => (
          <>
            <button
              type="button"
              aria-label={`${c.enabled ? "Disable" : "Enable"} ${c.name}`}
              onClick={() =>
                act(() =>
                  data(keyhook().PATCH("/v1/oauth-clients/{id}", { ...path(c.id), body: { enabled: !c.enabled } })),
                )
              }
            >
              {c.enabled ? "Disable" : "Enable"}
            </button>
            {c.type === "confidential" && (
              <button
                type="button"
                aria-label={`Rotate the secret of ${c.name}`}
                onClick={() =>
                  act(async () => {
                    const r = await data(keyhook().POST("/v1/oauth-clients/{id}/rotate-secret", path(c.id)));
                    setSecret({ clientId: c.id, secret: r.clientSecret ?? "" });
                  })
                }
              >
                Rotate secret
              </button>
            )}
            <button
              type="button"
              class="danger"
              aria-label={`Delete ${c.name}`}
              onClick={() => {
                if (confirm(`Delete ${c.name}? Every user's authorization of it ends now.`)) {
                  act(() => data(keyhook().DELETE("/v1/oauth-clients/{id}", path(c.id))));
                }
              }}
            >
              Delete
            </button>
          </>
        )}
      />
      {secret && (
        <CopySecretDialog
          title="Copy the client secret"
          label="Client secret"
          secret={secret.secret}
          onDone={() => setSecret(null)}
        >
          <p>
            Client ID: <code>{secret.clientId}</code>
          </p>
        </CopySecretDialog>
      )}
    </section>
  );
}

/**
 * The operator's view of the deployment's clients: the shared public ones and the apps that
 * registered themselves (RFC 7591) — which any account's users may authorize, so the operator
 * disables or deletes one here for every account at once.
 */
export function DeploymentAppsSection(props: { onError: OnError }) {
  const { clients, act } = useClients(
    () => data(keyhook().GET("/v1/deployment/oauth-clients", { params: { query: { limit: 100 } } })),
    "the deployment's apps",
    props.onError,
  );
  return (
    <section aria-labelledby="deployment-apps-heading" class="spaced">
      <div class="section-head">
        <h2 id="deployment-apps-heading">Deployment apps</h2>
      </div>
      <p class="muted">
        Public apps every account's users may authorize: the ones you share, and those that registered themselves.
        Disabling or deleting one applies in every account.
      </p>
      <ClientsTable
        clients={clients}
        what="the deployment's apps"
        empty="No deployment apps yet"
        kind={(c) => (c.dynamic ? "registered itself" : "shared")}
        actions={(c) => (
          <>
            <button
              type="button"
              aria-label={`${c.enabled ? "Disable" : "Enable"} ${c.name} in every account`}
              onClick={() =>
                act(() =>
                  data(
                    keyhook().PATCH("/v1/deployment/oauth-clients/{id}", {
                      ...path(c.id),
                      body: { enabled: !c.enabled },
                    }),
                  ),
                )
              }
            >
              {c.enabled ? "Disable" : "Enable"}
            </button>
            <button
              type="button"
              class="danger"
              aria-label={`Delete ${c.name} in every account`}
              onClick={() => {
                if (confirm(`Delete ${c.name}? Every user's authorization of it, in every account, ends now.`)) {
                  act(() => data(keyhook().DELETE("/v1/deployment/oauth-clients/{id}", path(c.id))));
                }
              }}
            >
              Delete
            </button>
          </>
        )}
      />
    </section>
  );
}

function NewClientForm(props: {
  onCancel: () => void;
  onCreated: (created: { client: Client; clientSecret: string | null }) => void;
  onError: OnError;
}) {
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const redirectUris = String(form.get("redirectUris") ?? "")
      .split(/\s+/)
      .filter(Boolean);
    const body = {
      name: String(form.get("name") ?? "").trim(),
      type: String(form.get("type")) as "confidential" | "public",
      scopes: form.getAll("scopes").map(String),
      ...(redirectUris.length > 0 ? { redirectUris } : {}),
    };
    try {
      props.onCreated(await data(keyhook().POST("/v1/oauth-clients", { body })));
    } catch (err) {
      props.onError(message(err));
    }
  };
  return (
    <form class="panel" aria-label="Register an OAuth app" onSubmit={submit}>
      <label for="client-name">Name</label>
      <input id="client-name" name="name" required maxLength={100} placeholder="Zapier" />
      <fieldset>
        <legend>Type</legend>
        <label class="check">
          <input type="radio" name="type" value="confidential" checked /> Confidential (a server: has a secret)
        </label>
        <label class="check">
          <input type="radio" name="type" value="public" /> Public (a browser, mobile or CLI app: PKCE only)
        </label>
      </fieldset>
      <label for="client-redirects">Redirect URIs (one per line)</label>
      <textarea
        id="client-redirects"
        name="redirectUris"
        rows={2}
        placeholder="https://app.example.com/oauth/callback"
      />
      <fieldset>
        <legend>Scopes it may ask for</legend>
        {KEYHOOK_PERMISSIONS.filter((p) => p !== "impersonate").map((p) => (
          <label class="check">
            <input type="checkbox" name="scopes" value={p} /> {p}
          </label>
        ))}
      </fieldset>
      <div class="form-actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary">
          Register
        </button>
      </div>
    </form>
  );
}

/** Authorized apps: what users allowed (a user sees their own; oauth:read sees everyone's). */
export function AuthorizedAppsTab(props: { onError: OnError }) {
  const { items: grants, act } = useList(
    async () => (await data(keyhook().GET("/v1/oauth-grants", { params: { query: { limit: 100 } } }))).grants,
    "the authorized apps",
    props.onError,
  );
  const revoke = (g: Grant) => {
    if (!confirm(`Revoke ${g.client.name}'s access for ${g.userName}? Its tokens stop working now.`)) return;
    act(() => data(keyhook().DELETE("/v1/oauth-grants/{id}", { params: { path: { id: g.id } } })));
  };
  return (
    <section aria-labelledby="grants-heading">
      <h2 id="grants-heading">Authorized apps</h2>
      {grants === null ? (
        <p class="muted">Loading authorized apps...</p>
      ) : grants.length === 0 ? (
        <p class="empty">No app has been authorized</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">User</th>
              <th scope="col">Scopes</th>
              <th scope="col">Authorized</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {grants.map((g) => (
              <tr key={g.id}>
                <td>{g.client.name}</td>
                <td>{g.userName}</td>
                <td>{g.scopes.join(", ")}</td>
                <td>
                  <When iso={g.createdAt} />
                </td>
                <td>
                  <When iso={g.lastUsedAt} />
                </td>
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Revoke ${g.client.name} for ${g.userName}`}
                    onClick={() => revoke(g)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
