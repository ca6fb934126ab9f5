import { useEffect, useState } from "hono/jsx/dom";
import { api, message } from "./api";
import { KEYHOOK_PERMISSIONS } from "../lib/permissions";
import { Dialog, Sparkline, When } from "./components";

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  last4: string;
  enabled: boolean;
  badges: ("no_permissions" | "can_impersonate" | "read_only")[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}


const BADGE_TEXT = { no_permissions: "No permissions", can_impersonate: "Can impersonate", read_only: "Read-only" };

export function KeysTab(props: { onError: (text: string, retry?: () => void) => void; defaultRateLimit: number | null }) {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [usage, setUsage] = useState<Record<string, number[]>>({});
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);

  const load = async () => {
    setKeys(null);
    try {
      const { apiKeys } = await api<{ apiKeys: ApiKey[] }>("GET", "/v1/api-keys?limit=100");
      setKeys(apiKeys);
      for (const k of apiKeys) {
        api<{ usage: { requests: number }[] }>("GET", `/v1/api-keys/${k.id}/usage`)
          .then(({ usage: u }) => setUsage((prev) => ({ ...prev, [k.id]: u.slice(-24).map((x) => x.requests) })))
          .catch(() => {});
      }
    } catch (err) {
      setKeys([]);
      props.onError(`Could not load API keys: ${message(err)}`, load);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const toggle = async (key: ApiKey) => {
    try {
      const { apiKey } = await api<{ apiKey: ApiKey }>("PATCH", `/v1/api-keys/${key.id}`, { enabled: !key.enabled });
      setKeys((ks) => ks && ks.map((k) => (k.id === key.id ? apiKey : k)));
    } catch (err) {
      props.onError(`Could not change ${key.name}: ${message(err)}`);
    }
  };

  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke API key ${key.name}? This cannot be undone.`)) return;
    setKeys((ks) => ks && ks.filter((k) => k.id !== key.id)); // leaves the table at once
    try {
      await api("DELETE", `/v1/api-keys/${key.id}`);
    } catch (err) {
      props.onError(`Could not revoke ${key.name}: ${message(err)}`);
      load();
    }
  };

  return (
    <section aria-labelledby="keys-heading">
      <div class="section-head">
        <h2 id="keys-heading">API keys</h2>
        <button type="button" class="primary" onClick={() => setCreating(!creating)}>
          + New API key
        </button>
      </div>
      {creating && (
        <NewKeyForm
          defaultRateLimit={props.defaultRateLimit}
          onCancel={() => setCreating(false)}
          onCreated={(key, k) => {
            setCreating(false);
            setSecret(key);
            setKeys((ks) => [k, ...(ks ?? [])]);
          }}
          onError={props.onError}
        />
      )}
      {keys === null ? (
        <p class="muted">Loading API keys...</p>
      ) : keys.length === 0 ? (
        <div class="empty">
          <p>No API keys yet</p>
          <p class="muted">Create one for a CI pipeline, a script or an integration.</p>
          <button type="button" onClick={() => setCreating(true)}>
            Create your first API key
          </button>
        </div>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Usage</th>
              <th scope="col">Last used</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Active</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-key-id={k.id}>
                <td>
                  <strong>{k.name}</strong>
                  {k.badges.map((b) => (
                    <span class={`badge badge-${b}`}>{BADGE_TEXT[b]}</span>
                  ))}
                </td>
                <td>
                  <code>{`${k.prefix}…${k.last4}`}</code>
                </td>
                <td>
                  <Sparkline values={usage[k.id] ?? null} />
                </td>
                <td class="last-used">
                  <When iso={k.lastUsedAt} />
                </td>
                <td>
                  <When iso={k.createdAt} />
                </td>
                <td>
                  <When iso={k.expiresAt} never="Never" />
                </td>
                <td>
                  <input
                    type="checkbox"
                    role="switch"
                    aria-label={`Active: ${k.name}`}
                    checked={k.enabled}
                    onChange={() => toggle(k)}
                  />
                </td>
                <td>
                  <button type="button" class="danger" onClick={() => revoke(k)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {secret && (
        <CopyKeyDialog secret={secret} onDone={() => setSecret(null)} />
      )}
    </section>
  );
}

function CopyKeyDialog(props: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
    } catch {
      const field = document.getElementById("new-key") as HTMLInputElement | null;
      field?.select();
      document.execCommand("copy");
    }
    setCopied(true);
  };
  return (
    <Dialog title="Copy your API key">
      <p>This is the only time the key is shown. Store it somewhere safe now.</p>
      <label for="new-key">Your new API key</label>
      <input id="new-key" class="secret" readOnly value={props.secret} />
      <div class="dialog-actions">
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="primary" onClick={props.onDone}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

interface Profile {
  id: string;
  name: string;
}

function NewKeyForm(props: {
  defaultRateLimit: number | null;
  onCancel: () => void;
  onCreated: (secret: string, key: ApiKey) => void;
  onError: (text: string) => void;
}) {
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<{ profiles: Profile[] }>("GET", "/v1/permission-profiles?limit=100")
      .then((r) => setProfiles(r.profiles))
      .catch(() => {});
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const scopes = [
      ...form.getAll("scope").map(String),
      ...String(form.get("custom") ?? "")
        .split(/[\s,]+/)
        .filter(Boolean),
    ];
    const body: Record<string, unknown> = { name: String(form.get("name")).trim(), scopes };
    const profileId = String(form.get("profile") ?? "");
    if (profileId) body.profileId = profileId;
    const days = String(form.get("expires") ?? "").trim();
    if (days) body.expiresInDays = Number(days);
    const limit = String(form.get("ratelimit") ?? "").trim();
    // The plan's default stays a default (it follows plan changes) unless another number is asked for.
    if (limit && Number(limit) !== props.defaultRateLimit) body.rateLimitPerHour = Number(limit);
    setBusy(true);
    try {
      const { key, apiKey } = await api<{ key: string; apiKey: ApiKey }>("POST", "/v1/api-keys", body);
      props.onCreated(key, apiKey);
    } catch (err) {
      props.onError(`Could not create the key: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" onSubmit={submit} aria-label="New API key">
      <label for="key-name">Name</label>
      <input id="key-name" name="name" required maxLength={100} placeholder="e.g. CI/CD Pipeline" />
      <fieldset>
        <legend>Permissions</legend>
        {KEYHOOK_PERMISSIONS.map((p) => (
          <label class="check">
            <input type="checkbox" name="scope" value={p} /> {p}
          </label>
        ))}
        <label for="key-custom">Other permissions (your own, e.g. audits:read)</label>
        <input id="key-custom" name="custom" placeholder="resource:action, comma-separated" />
      </fieldset>
      <label for="key-profile">Permission profile</label>
      <select id="key-profile" name="profile">
        <option value="">None</option>
        {profiles.map((p) => (
          <option value={p.id}>{p.name}</option>
        ))}
      </select>
      <label for="key-expires">Expires in (days)</label>
      <input id="key-expires" name="expires" type="number" min={1} max={3650} placeholder="Never" />
      <label for="key-ratelimit">Rate limit (req/hour)</label>
      <input
        id="key-ratelimit"
        name="ratelimit"
        type="number"
        min={1}
        value={props.defaultRateLimit === null ? "" : String(props.defaultRateLimit)}
      />
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>
          Create
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
