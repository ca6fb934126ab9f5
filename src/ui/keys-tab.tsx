import { useEffect, useState } from "hono/jsx/dom";
import { KEYHOOK_PERMISSIONS } from "../lib/permissions";
import { AccountOverview, KeyAnalyticsDialog } from "./analytics";
import { data, keyhook, message, type Schemas } from "./api";
import { CopySecretDialog, Dialog, Sparkline, When } from "./components";

type ApiKey = Schemas["ApiKey"];

const BADGE_TEXT = { no_permissions: "No permissions", can_impersonate: "Can impersonate", read_only: "Read-only" };

export function KeysTab(props: {
  onError: (text: string, retry?: () => void) => void;
  defaultRateLimit: number | null;
}) {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [usage, setUsage] = useState<Record<string, number[]>>({});
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [charted, setCharted] = useState<ApiKey | null>(null);
  const [crediting, setCrediting] = useState<ApiKey | null>(null);

  const load = async () => {
    setKeys(null);
    try {
      const { apiKeys } = await data(keyhook().GET("/v1/api-keys", { params: { query: { limit: 100 } } }));
      setKeys(apiKeys);
      if (apiKeys.length === 0) return;
      // The whole page's usage in one request.
      const ids = apiKeys.map((k) => k.id).join(",");
      data(keyhook().GET("/v1/api-key-usage", { params: { query: { ids } } }))
        .then(({ keys: all }) =>
          setUsage(Object.fromEntries(all.map((k) => [k.keyId, k.usage.slice(-24).map((x) => x.requests)]))),
        )
        .catch(() => {});
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
      const { apiKey } = await data(
        keyhook().PATCH("/v1/api-keys/{id}", { params: { path: { id: key.id } }, body: { enabled: !key.enabled } }),
      );
      setKeys((ks) => (ks ? ks.map((k) => (k.id === key.id ? apiKey : k)) : ks));
    } catch (err) {
      props.onError(`Could not change ${key.name}: ${message(err)}`);
    }
  };

  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke API key ${key.name}? This cannot be undone.`)) return;
    setKeys((ks) => (ks ? ks.filter((k) => k.id !== key.id) : ks)); // leaves the table at once
    try {
      await data(keyhook().DELETE("/v1/api-keys/{id}", { params: { path: { id: key.id } } }));
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
      {keys && keys.length > 0 && <AccountOverview />}
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
              <th scope="col">Credits</th>
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
                <td class="credits">
                  <Credits credits={k.credits} />{" "}
                  <button
                    type="button"
                    class="link"
                    aria-label={`Edit credits: ${k.name}`}
                    onClick={() => setCrediting(k)}
                  >
                    Edit
                  </button>
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
                    aria-checked={k.enabled}
                    aria-label={`Active: ${k.name}`}
                    checked={k.enabled}
                    onChange={() => toggle(k)}
                  />
                </td>
                <td class="actions">
                  <button type="button" onClick={() => setCharted(k)} aria-label={`Verifications: ${k.name}`}>
                    Chart
                  </button>
                  <button type="button" class="danger" onClick={() => revoke(k)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {secret && <CopySecretDialog secret={secret} onDone={() => setSecret(null)} />}
      {crediting && (
        <CreditsDialog
          apiKey={crediting}
          onClose={() => setCrediting(null)}
          onSaved={(apiKey) => {
            setCrediting(null);
            setKeys((ks) => (ks ? ks.map((k) => (k.id === apiKey.id ? apiKey : k)) : ks));
          }}
          onError={props.onError}
        />
      )}
      {charted && <KeyAnalyticsDialog keyId={charted.id} name={charted.name} onClose={() => setCharted(null)} />}
    </section>
  );
}

/** What a key has left to spend, and when it refills; "Unlimited" without credits. */
function Credits(props: { credits: ApiKey["credits"] }) {
  const c = props.credits;
  if (!c) return <span class="muted">Unlimited</span>;
  const low = c.remaining <= c.lowThreshold;
  return (
    <span>
      <strong class={low ? "credits-low" : undefined}>{c.remaining.toLocaleString("en-US")}</strong>
      {c.nextRefillAt && (
        <span class="muted">
          {" "}
          · refills to {c.refill?.amount.toLocaleString("en-US")} <When iso={c.nextRefillAt} />
        </span>
      )}
    </span>
  );
}

/** Edits a key's usage credits: what is left and the refill; empty = unlimited. */
function CreditsDialog(props: {
  apiKey: ApiKey;
  onClose: () => void;
  onSaved: (k: ApiKey) => void;
  onError: (text: string) => void;
}) {
  const c = props.apiKey.credits;
  const save = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const left = String(form.get("remaining") ?? "").trim();
    const refill = String(form.get("refill") ?? "");
    const credits = left
      ? {
          remaining: Number(left),
          refill:
            refill === "daily" || refill === "monthly"
              ? { interval: refill as "daily" | "monthly", amount: c?.refill?.amount ?? Number(left) }
              : null,
        }
      : null;
    try {
      const { apiKey } = await data(
        keyhook().PATCH("/v1/api-keys/{id}", { params: { path: { id: props.apiKey.id } }, body: { credits } }),
      );
      props.onSaved(apiKey);
    } catch (err) {
      props.onError(`Could not change the credits of ${props.apiKey.name}: ${message(err)}`);
    }
  };
  return (
    <Dialog title={`Usage credits: ${props.apiKey.name}`}>
      <form onSubmit={save}>
        <label for="credits-left">Credits left (empty: unlimited)</label>
        <input id="credits-left" name="remaining" type="number" min={0} value={c ? String(c.remaining) : ""} />
        <label for="credits-refill">Refill credits</label>
        <select id="credits-refill" name="refill">
          <option value="" selected={!c?.refill}>
            Never
          </option>
          <option value="daily" selected={c?.refill?.interval === "daily"}>
            Daily (00:00 UTC)
          </option>
          <option value="monthly" selected={c?.refill?.interval === "monthly"}>
            Monthly (on the 1st)
          </option>
        </select>
        <div class="dialog-actions">
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

type Profile = Schemas["PermissionProfile"];

function NewKeyForm(props: {
  defaultRateLimit: number | null;
  onCancel: () => void;
  onCreated: (secret: string, key: ApiKey) => void;
  onError: (text: string) => void;
}) {
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    data(keyhook().GET("/v1/permission-profiles", { params: { query: { limit: 100 } } }))
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
    const profileId = String(form.get("profile") ?? "");
    const days = String(form.get("expires") ?? "").trim();
    const limit = String(form.get("ratelimit") ?? "").trim();
    const credits = String(form.get("credits") ?? "").trim();
    const refill = String(form.get("refill") ?? "");
    const body = {
      name: String(form.get("name")).trim(),
      scopes,
      profileId: profileId || undefined,
      expiresInDays: days ? Number(days) : undefined,
      // The plan's default stays a default (it follows plan changes) unless another number is asked for.
      rateLimitPerHour: limit && Number(limit) !== props.defaultRateLimit ? Number(limit) : undefined,
      // Empty: unlimited. A refill starts again from the same number each day or month.
      credits: credits
        ? {
            remaining: Number(credits),
            refill:
              refill === "daily" || refill === "monthly"
                ? { interval: refill as "daily" | "monthly", amount: Number(credits) }
                : null,
          }
        : undefined,
    };
    setBusy(true);
    try {
      const { key, apiKey } = await data(keyhook().POST("/v1/api-keys", { body }));
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
      <label for="key-credits">Usage credits (each request spends one)</label>
      <input id="key-credits" name="credits" type="number" min={0} placeholder="Unlimited" />
      <label for="key-refill">Refill credits</label>
      <select id="key-refill" name="refill">
        <option value="">Never</option>
        <option value="daily">Daily (00:00 UTC)</option>
        <option value="monthly">Monthly (on the 1st)</option>
      </select>
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
