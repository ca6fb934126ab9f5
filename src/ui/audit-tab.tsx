import { useEffect, useState } from "hono/jsx/dom";
import { data, keyhook, message, type Schemas } from "./api";
import { When } from "./components";

type Entry = Schemas["AuditEntry"];

const PAGE = 25;

export function AuditTab(props: { onError: (text: string, retry?: () => void) => void }) {
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [filters, setFilters] = useState({ actorId: "", action: "", since: "" });
  const [cursors, setCursors] = useState<string[]>([]); // the cursor of each page shown so far
  const [next, setNext] = useState<string | null>(null);

  const load = async (cursor: string | null, f = filters) => {
    setEntries(null);
    const query = {
      limit: PAGE,
      actorId: f.actorId || undefined,
      action: f.action || undefined,
      since: f.since ? new Date(f.since).toISOString() : undefined,
      cursor: cursor ?? undefined,
    };
    try {
      const r = await data(keyhook().GET("/v1/audit-log", { params: { query } }));
      setEntries(r.entries);
      setNext(r.nextCursor);
    } catch (err) {
      setEntries([]);
      props.onError(`Could not load the audit log: ${message(err)}`, () => load(cursor, f));
    }
  };
  useEffect(() => {
    load(null);
  }, []);

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const f = {
      actorId: String(form.get("actor") ?? "").trim(),
      action: String(form.get("action") ?? "").trim(),
      since: String(form.get("since") ?? ""),
    };
    setFilters(f);
    setCursors([]);
    load(null, f);
  };

  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <form class="filters" onSubmit={apply} aria-label="Filter the audit log">
        <label for="audit-actor">Actor id</label>
        <input id="audit-actor" name="actor" placeholder="key_… or a user id" />
        <label for="audit-action">Action</label>
        <input id="audit-action" name="action" placeholder="api_key.revoked" />
        <label for="audit-since">Since</label>
        <input id="audit-since" name="since" type="datetime-local" />
        <button type="submit">Apply</button>
      </form>
      {entries === null ? (
        <p class="muted">Loading the audit log...</p>
      ) : entries.length === 0 ? (
        <p class="empty">No entries</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Target</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <td>
                  <When iso={e.createdAt} />
                </td>
                <td>
                  {e.actor.name} <span class="muted">({e.actor.type.replace("_", " ")})</span>
                  {e.onBehalfOf && <div class="muted">as user {e.onBehalfOf.id}</div>}
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.target.name ?? e.target.id} <span class="muted">({e.target.type.replace("_", " ")})</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => {
            const prev = cursors.slice(0, -1);
            setCursors(prev);
            load(prev.at(-1) ?? null);
          }}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!next}
          onClick={() => {
            if (next) setCursors([...cursors, next]);
            load(next);
          }}
        >
          Next
        </button>
      </div>
    </section>
  );
}
