import { useEffect, useState } from "hono/jsx/dom";
import { can, data, keyhook, message, type Schemas } from "./api";

type EventType = Schemas["EventType"];
type Webhook = Schemas["Webhook"];
type OnError = (text: string, retry?: () => void) => void;

/** Types by their group, the account's groups first by name, Keyhook's own last. */
function grouped(types: EventType[]): [string, EventType[]][] {
  const groups = new Map<string, EventType[]>();
  for (const t of types) {
    const g = t.group ?? "Other";
    groups.set(g, [...(groups.get(g) ?? []), t]);
  }
  const rank = (g: string) => (g === "Keyhook" ? 2 : g === "Other" ? 1 : 0);
  return [...groups].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

const receives = (w: Webhook, type: string) => w.events.includes("*") || w.events.includes(type);

/**
 * The event catalog: every type the account's webhooks can receive, with its description, its
 * entity's JSON Schema and its examples, and "Send example" to an endpoint that subscribes to it.
 */
export function CatalogTab(props: { onError: OnError }) {
  const [types, setTypes] = useState<EventType[] | null>(null);
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const [sent, setSent] = useState<string | null>(null);

  const load = async () => {
    try {
      setTypes((await data(keyhook().GET("/v1/event-types"))).eventTypes);
    } catch (err) {
      setTypes([]);
      props.onError(`Could not load the event catalog: ${message(err)}`, load);
    }
  };
  useEffect(() => {
    load();
    data(keyhook().GET("/v1/webhooks", { params: { query: { limit: 100 } } }))
      .then((r) => setHooks(r.webhooks))
      .catch(() => {});
  }, []);

  const sendExample = async (type: string, form: HTMLFormElement) => {
    const id = String(new FormData(form).get("webhook") ?? "");
    if (!id) return;
    try {
      await data(keyhook().POST("/v1/webhooks/{id}/test", { params: { path: { id } }, body: { event: type } }));
      setSent(`The ${type} example is on its way to ${hooks.find((w) => w.id === id)?.url ?? id}.`);
    } catch (err) {
      props.onError(`Could not send the example: ${message(err)}`);
    }
  };

  if (types === null) return <p class="muted">Loading...</p>;
  return (
    <section aria-label="Event catalog">
      <div class="section-head">
        <h2>Event catalog</h2>
      </div>
      <p class="muted">
        The events your endpoints can subscribe to. Each arrives as a signed POST whose <code>entity</code> matches the
        type's schema.
      </p>
      {sent && (
        <p role="status" class="notice-ok">
          {sent}
        </p>
      )}
      {types.length === 0 && <p class="muted">No event types yet.</p>}
      {grouped(types).map(([group, list]) => (
        <section class="catalog-group" aria-label={group}>
          <h3>{group}</h3>
          {list.map((t) => {
            const targets = hooks.filter((w) => receives(w, t.name));
            return (
              <article class="panel catalog-type" aria-label={t.name}>
                <h4>
                  <code>{t.name}</code>
                  {t.deprecated && <span class="badge badge-deprecated">Deprecated</span>}
                  {t.validate && <span class="badge">Validated</span>}
                </h4>
                {t.description && <p>{t.description}</p>}
                {t.schema && (
                  <details>
                    <summary>Schema</summary>
                    <pre>{JSON.stringify(t.schema, null, 2)}</pre>
                  </details>
                )}
                {t.examples.length > 0 && (
                  <details open>
                    <summary>{t.examples.length === 1 ? "Example" : `Examples (${t.examples.length})`}</summary>
                    {t.examples.map((ex) => (
                      <pre>{JSON.stringify(ex, null, 2)}</pre>
                    ))}
                  </details>
                )}
                {can.write && targets.length > 0 && (
                  <form
                    class="picker"
                    onSubmit={(e: Event) => {
                      e.preventDefault();
                      sendExample(t.name, e.target as HTMLFormElement);
                    }}
                  >
                    <label for={`send-${t.name}`}>Send {t.examples.length > 0 ? "the example" : "a test"} to</label>
                    <select id={`send-${t.name}`} name="webhook">
                      {targets.map((w) => (
                        <option value={w.id}>{w.url}</option>
                      ))}
                    </select>
                    <button type="submit">Send example</button>
                  </form>
                )}
              </article>
            );
          })}
        </section>
      ))}
    </section>
  );
}
