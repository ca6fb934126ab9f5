import { useEffect, useState } from "hono/jsx/dom";
import { can, data, keyhook, message, type Schemas } from "./api";
import { When } from "./components";

type Webhook = Schemas["Webhook"];
type Attempt = Schemas["Attempt"];

type OnError = (text: string, retry?: () => void) => void;

/** `whsec_` + base64 of 32 random bytes, made in the browser; the server takes it as given. */
function generateSecret() {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
}

export function WebhooksTab(props: { onError: OnError }) {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [editing, setEditing] = useState<Webhook | "new" | null>(null);
  const [history, setHistory] = useState<Webhook | null>(null);
  const [replaying, setReplaying] = useState<Webhook | null>(null);

  const load = async () => {
    setHooks(null);
    try {
      setHooks((await data(keyhook().GET("/v1/webhooks", { params: { query: { limit: 100 } } }))).webhooks);
    } catch (err) {
      setHooks([]);
      props.onError(`Could not load webhooks: ${message(err)}`, load);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const act = async (what: string, run: () => Promise<unknown>) => {
    try {
      await run();
      await load();
    } catch (err) {
      props.onError(`Could not ${what}: ${message(err)}`);
    }
  };

  return (
    <section aria-labelledby="webhooks-heading">
      <div class="section-head">
        <h2 id="webhooks-heading">Webhooks</h2>
        {can.write && (
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            + New webhook
          </button>
        )}
      </div>
      {editing && (
        <WebhookForm
          webhook={editing === "new" ? null : editing}
          onDone={() => {
            setEditing(null);
            load();
          }}
          onError={props.onError}
        />
      )}
      {hooks === null ? (
        <p class="muted">Loading webhooks...</p>
      ) : hooks.length === 0 ? (
        <div class="empty">
          <p>No webhooks yet</p>
          <p class="muted">Add a URL to receive signed events when things change.</p>
        </div>
      ) : (
        <table class="cards">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Status</th>
              <th scope="col">Last delivery</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {hooks.map((w) => (
              <tr key={w.id} data-webhook-id={w.id}>
                <td data-label="URL">
                  <code class="url">{w.url}</code>
                  {w.description && <div class="muted">{w.description}</div>}
                </td>
                <td data-label="Events">{w.events.includes("*") ? "All events" : w.events.join(", ")}</td>
                <td data-label="Status">
                  <span class={`status status-${w.status}`}>{w.status === "active" ? "Active" : "Disabled"}</span>
                  {w.disabledReason && <div class="muted">{w.disabledReason}</div>}
                </td>
                <td data-label="Last delivery">
                  {w.lastAttempt ? (
                    <span>
                      <When iso={w.lastAttempt.at} />{" "}
                      <span class={w.lastAttempt.succeeded ? "ok" : "fail"}>
                        {w.lastAttempt.succeeded ? "Succeeded" : "Failed"}
                        {w.lastAttempt.status !== null ? ` (${w.lastAttempt.status})` : ""}
                      </span>
                    </span>
                  ) : (
                    <span class="muted">None yet</span>
                  )}
                </td>
                <td class="row-actions-cell">
                  <div class="row-actions">
                    {can.write && (
                      <>
                        <button type="button" onClick={() => setEditing(w)}>
                          Edit
                        </button>
                        <button
                          type="button"
                          onClick={() =>
                            act("change the webhook", () =>
                              data(
                                keyhook().PATCH("/v1/webhooks/{id}", {
                                  params: { path: { id: w.id } },
                                  body: { status: w.status === "active" ? "disabled" : "active" },
                                }),
                              ),
                            )
                          }
                        >
                          {w.status === "active" ? "Disable" : "Enable"}
                        </button>
                        <button
                          type="button"
                          onClick={() =>
                            act("send a test event", async () => {
                              await data(
                                keyhook().POST("/v1/webhooks/{id}/test", { params: { path: { id: w.id } }, body: {} }),
                              );
                              setTimeout(load, 1500); // its outcome shows in "Last delivery" once it is sent
                            })
                          }
                        >
                          Send test event
                        </button>
                      </>
                    )}
                    <button type="button" onClick={() => setHistory(w)}>
                      Delivery history
                    </button>
                    {can.replay && (
                      <button type="button" disabled={w.status !== "active"} onClick={() => setReplaying(w)}>
                        Replay
                      </button>
                    )}
                    {can.write && (
                      <button
                        type="button"
                        class="danger"
                        onClick={() => {
                          if (confirm(`Delete webhook ${w.url}? This cannot be undone.`)) {
                            act("delete the webhook", () =>
                              data(keyhook().DELETE("/v1/webhooks/{id}", { params: { path: { id: w.id } } })),
                            );
                          }
                        }}
                      >
                        Delete
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {replaying && <ReplayPanel webhook={replaying} onClose={() => setReplaying(null)} onError={props.onError} />}
      {history && <DeliveryHistory webhook={history} onClose={() => setHistory(null)} onError={props.onError} />}
    </section>
  );
}

function WebhookForm(props: { webhook: Webhook | null; onDone: () => void; onError: OnError }) {
  const existing = props.webhook;
  const [types, setTypes] = useState<{ name: string; description: string | null }[]>([]);
  const [all, setAll] = useState(existing ? existing.events.includes("*") : false);
  const [secret, setSecret] = useState(existing ? "" : generateSecret());
  const [scheme, setScheme] = useState<"v1" | "v1a">("v1");
  const [revealed, setRevealed] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** The custom headers as `Name: value` lines (an existing webhook's are read when the form opens). */
  const [headerText, setHeaderText] = useState("");
  useEffect(() => {
    data(keyhook().GET("/v1/event-types"))
      .then((r) => setTypes(r.eventTypes))
      .catch(() => {});
    if (existing && existing.headerNames.length > 0) {
      data(keyhook().GET("/v1/webhooks/{id}/headers", { params: { path: { id: existing.id } } }))
        .then((r) =>
          setHeaderText(
            Object.entries(r.headers)
              .map(([k, v]) => `${k}: ${v}`)
              .join("\n"),
          ),
        )
        .catch((err) => props.onError(`Could not read the custom headers: ${message(err)}`));
    }
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const events = all ? ["*"] : form.getAll("event").map(String);
    const filterText = String(form.get("filter") ?? "").trim();
    let filter: Schemas["FilterCondition"][] | null = null;
    try {
      // As typed; the server checks it and says what is wrong.
      filter = filterText ? (JSON.parse(filterText) as Schemas["FilterCondition"][]) : null;
    } catch {
      props.onError("The filter is not valid JSON");
      return;
    }
    const description = String(form.get("description") ?? "").trim();
    const url = String(form.get("url")).trim();
    const headers: Record<string, string> = {};
    for (const line of headerText.split("\n")) {
      if (!line.trim()) continue;
      const colon = line.indexOf(":");
      if (colon < 1) {
        props.onError(`A custom header needs "Name: value": ${line.trim()}`);
        return;
      }
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    const number = (name: string) => {
      const text = String(form.get(name) ?? "").trim();
      return text === "" ? null : Number(text);
    };
    const settings = { headers, throttle: number("throttle"), timeoutMs: number("timeoutMs") };
    setBusy(true);
    try {
      if (existing) {
        const body = { url, events, filter, description: description || null, ...settings };
        await data(keyhook().PATCH("/v1/webhooks/{id}", { params: { path: { id: existing.id } }, body }));
      } else {
        const body = {
          url,
          events,
          // v1a: Keyhook makes the Ed25519 key; the receiver is given only its public half.
          ...(scheme === "v1a" ? { signatureScheme: scheme } : { secret: String(form.get("secret")).trim() }),
          filter: filter ?? undefined,
          description: description || undefined,
          headers: Object.keys(headers).length > 0 ? headers : undefined,
          throttle: settings.throttle ?? undefined,
          timeoutMs: settings.timeoutMs ?? undefined,
        };
        await data(keyhook().POST("/v1/webhooks", { body }));
      }
      props.onDone();
    } catch (err) {
      props.onError(`Could not save the webhook: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const reveal = async () => {
    if (!existing) return;
    try {
      setRevealed(
        (await data(keyhook().GET("/v1/webhooks/{id}/secret", { params: { path: { id: existing.id } } }))).secret,
      );
    } catch (err) {
      props.onError(`Could not reveal the secret: ${message(err)}`);
    }
  };

  return (
    <form class="panel" onSubmit={submit} aria-label={existing ? "Edit webhook" : "New webhook"}>
      <label for="wh-url">URL</label>
      <input
        id="wh-url"
        name="url"
        type="url"
        required
        value={existing?.url ?? ""}
        placeholder="https://example.com/webhooks"
      />
      <fieldset>
        <legend>Events</legend>
        <label class="check">
          <input
            type="checkbox"
            checked={all}
            onChange={(e: Event) => setAll((e.target as HTMLInputElement).checked)}
          />{" "}
          All events
        </label>
        {!all &&
          types.map((t) => (
            <label class="check" title={t.description ?? ""}>
              <input type="checkbox" name="event" value={t.name} checked={existing?.events.includes(t.name) ?? false} />{" "}
              {t.name}
            </label>
          ))}
      </fieldset>
      <label for="wh-filter">Filter (optional, JSON)</label>
      <textarea
        id="wh-filter"
        name="filter"
        rows={3}
        placeholder='[{"field":"severity","op":"gte","value":"major","order":["minor","major","critical"]}]'
      >
        {existing?.filter ? JSON.stringify(existing.filter) : ""}
      </textarea>
      {existing ? (
        <div>
          <span class="label">{existing.signatureScheme === "v1a" ? "Public key (v1a)" : "Secret"}</span>{" "}
          {revealed ? (
            <span>
              <code class="secret">{revealed}</code>{" "}
              <button type="button" onClick={() => navigator.clipboard.writeText(revealed).catch(() => {})}>
                Copy
              </button>
            </span>
          ) : (
            <button type="button" onClick={reveal}>
              {existing.signatureScheme === "v1a" ? "Show public key" : "Reveal secret"}
            </button>
          )}
        </div>
      ) : (
        <div>
          <label for="wh-scheme">Signatures</label>
          <select
            id="wh-scheme"
            value={scheme}
            onChange={(e: Event) => setScheme((e.target as HTMLSelectElement).value as "v1" | "v1a")}
          >
            <option value="v1">v1: HMAC-SHA256, a shared secret</option>
            <option value="v1a">v1a: Ed25519, the receiver holds a public key</option>
          </select>
          {scheme === "v1" ? (
            <div>
              <label for="wh-secret">Secret</label>
              <input
                id="wh-secret"
                name="secret"
                required
                minLength={24}
                value={secret}
                onInput={(e: Event) => setSecret((e.target as HTMLInputElement).value)}
              />
              <button type="button" onClick={() => setSecret(generateSecret())}>
                Regenerate
              </button>
            </div>
          ) : (
            <p class="muted">
              Keyhook makes the signing key and keeps it; after saving, the receiver's public key (whpk_…) is under the
              webhook's Edit.
            </p>
          )}
        </div>
      )}
      <label for="wh-headers">Custom headers (optional, one "Name: value" a line)</label>
      <textarea
        id="wh-headers"
        rows={2}
        placeholder="Authorization: Bearer …"
        value={headerText}
        onInput={(e: Event) => setHeaderText((e.target as HTMLTextAreaElement).value)}
      />
      <div class="inline-fields">
        <span>
          <label for="wh-throttle">Throttle (deliveries a second, optional)</label>
          <input id="wh-throttle" name="throttle" type="number" min={1} max={1000} value={existing?.throttle ?? ""} />
        </span>
        <span>
          <label for="wh-timeout">Timeout (ms, optional)</label>
          <input id="wh-timeout" name="timeoutMs" type="number" min={1000} value={existing?.timeoutMs ?? ""} />
        </span>
      </div>
      <label for="wh-description">Description</label>
      <input id="wh-description" name="description" maxLength={500} value={existing?.description ?? ""} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>
          {existing ? "Save" : "Create"}
        </button>
        <button type="button" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** `YYYY-MM-DDTHH:mm` in local time, for a datetime-local input. */
const localInput = (ms: number) => {
  const d = new Date(ms - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};

/** Replay what the webhook missed since a time: each event once, in order (`POST …/replay`). */
function ReplayPanel(props: { webhook: Webhook; onClose: () => void; onError: OnError }) {
  const [since, setSince] = useState(localInput(Date.now() - 24 * 3_600_000));
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await data(
        keyhook().POST("/v1/webhooks/{id}/replay", {
          params: { path: { id: props.webhook.id } },
          body: { since: new Date(since).toISOString() },
        }),
      );
      setResult(
        `${r.replayed} event${r.replayed === 1 ? "" : "s"} on the way${
          r.nextSince ? `; more from ${new Date(r.nextSince).toLocaleString()} — replay again` : ""
        }`,
      );
    } catch (err) {
      props.onError(`Could not replay: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={run} aria-label="Replay missed events">
      <h3>Replay missed events: {props.webhook.url}</h3>
      <p class="muted">
        Every event of its types since then that it has not received — failed, or published while it was disabled — is
        sent once, in order, 10 a second.
      </p>
      <label for="replay-since">Since</label>
      <input
        id="replay-since"
        type="datetime-local"
        required
        value={since}
        onInput={(e: Event) => setSince((e.target as HTMLInputElement).value)}
      />
      {result && (
        <p role="status" class="ok">
          {result}
        </p>
      )}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>
          Replay
        </button>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </form>
  );
}

function DeliveryHistory(props: { webhook: Webhook; onClose: () => void; onError: OnError }) {
  const [attempts, setAttempts] = useState<Attempt[] | null>(null);
  const [older, setOlder] = useState<string | null>(null);
  /** The newest page, or (with a cursor) the next older page added below what is shown. */
  const load = async (cursor?: string) => {
    try {
      const page = await data(
        keyhook().GET("/v1/webhooks/{id}/attempts", {
          params: { path: { id: props.webhook.id }, query: { cursor } },
        }),
      );
      setAttempts(cursor ? [...(attempts ?? []), ...page.attempts] : page.attempts);
      setOlder(page.nextCursor);
    } catch (err) {
      if (!cursor) setAttempts([]);
      props.onError(`Could not load the delivery history: ${message(err)}`, () => load(cursor));
    }
  };
  useEffect(() => {
    load();
  }, [props.webhook.id]);
  const retry = async (a: Attempt) => {
    try {
      await data(keyhook().POST("/v1/deliveries/{id}/retry", { params: { path: { id: a.deliveryId } } }));
      setTimeout(load, 1500);
    } catch (err) {
      props.onError(`Could not retry: ${message(err)}`);
    }
  };
  return (
    <section class="panel" aria-labelledby="history-heading">
      <div class="section-head">
        <h3 id="history-heading">Delivery history: {props.webhook.url}</h3>
        <span>
          <button type="button" onClick={() => load()}>
            Refresh
          </button>{" "}
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </span>
      </div>
      {attempts === null ? (
        <p class="muted">Loading deliveries...</p>
      ) : attempts.length === 0 ? (
        <p class="muted">No deliveries yet. Send a test event to see one here.</p>
      ) : (
        <ul class="attempts">
          {attempts.map((a) => (
            <li key={a.id}>
              <details>
                <summary>
                  <When iso={a.createdAt} /> · <strong>{a.eventType}</strong> ·{" "}
                  <span class={a.succeeded ? "ok" : "fail"}>{a.responseStatus ?? "no response"}</span> · {a.durationMs}{" "}
                  ms
                  {a.failureReason && <span class="fail"> · {a.failureReason}</span>}
                </summary>
                <h4>Request</h4>
                <pre>
                  {Object.entries(a.requestHeaders)
                    .map(([k, v]) => `${k}: ${v}`)
                    .join("\n")}
                </pre>
                <pre>{a.requestBody ?? "(deleted: the event's content is no longer kept)"}</pre>
                <h4>Response</h4>
                <pre>
                  {a.responseHeaders
                    ? Object.entries(a.responseHeaders)
                        .map(([k, v]) => `${k}: ${v}`)
                        .join("\n")
                    : "(none)"}
                </pre>
                <pre>{a.responseBody ?? ""}</pre>
              </details>
              {can.replay && (
                <button type="button" onClick={() => retry(a)}>
                  Retry
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {older && (
        <button type="button" onClick={() => load(older)}>
          Show older
        </button>
      )}
    </section>
  );
}
