import { useEffect, useState } from "hono/jsx/dom";
import { can, data, keyhook, message, type Schemas } from "./api";
import { When } from "./components";

type LoggedEvent = Schemas["LoggedEvent"];
type EventDetail = Schemas["EventDetail"];
type Status = LoggedEvent["status"];
type OnError = (text: string, retry?: () => void) => void;

const PAGE = 25;
const STATUS_LABEL: Record<Status, string> = { delivered: "Delivered", failing: "Failing", pending: "Pending" };

/**
 * The event log: every event the account published, newest first, whether it is still in D1 or
 * already in the archive (the API makes no difference, and neither does this page).
 */
export function EventsTab(props: { onError: OnError }) {
  const [events, setEvents] = useState<LoggedEvent[] | null>(null);
  const [types, setTypes] = useState<string[]>([]);
  const [filters, setFilters] = useState({ type: "", status: "", since: "", until: "" });
  const [cursors, setCursors] = useState<string[]>([]); // the cursor of each page shown so far
  const [next, setNext] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [hooks, setHooks] = useState<Map<string, string>>(new Map()); // webhook id → URL

  const load = async (cursor: string | null, f = filters) => {
    setEvents(null);
    const query = {
      limit: PAGE,
      type: f.type || undefined,
      status: (f.status || undefined) as Status | undefined,
      since: f.since ? new Date(f.since).toISOString() : undefined,
      until: f.until ? new Date(f.until).toISOString() : undefined,
      cursor: cursor ?? undefined,
    };
    try {
      const r = await data(keyhook().GET("/v1/events", { params: { query } }));
      setEvents(r.events);
      setNext(r.nextCursor);
    } catch (err) {
      setEvents([]);
      props.onError(`Could not load the events: ${message(err)}`, () => load(cursor, f));
    }
  };
  useEffect(() => {
    load(null);
    data(keyhook().GET("/v1/event-types"))
      .then((r) => setTypes(r.eventTypes.map((t) => t.name)))
      .catch(() => {});
    data(keyhook().GET("/v1/webhooks", { params: { query: { limit: 100 } } }))
      .then((r) => setHooks(new Map(r.webhooks.map((w) => [w.id, w.url]))))
      .catch(() => {});
  }, []);

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const f = {
      type: String(form.get("type") ?? "").trim(),
      status: String(form.get("status") ?? ""),
      since: String(form.get("since") ?? ""),
      until: String(form.get("until") ?? ""),
    };
    setFilters(f);
    setCursors([]);
    setOpen(null);
    load(null, f);
  };

  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Events</h2>
      <form class="filters" onSubmit={apply} aria-label="Filter the events">
        <label for="ev-type">Type</label>
        <input id="ev-type" name="type" list="ev-types" placeholder="All types" />
        <datalist id="ev-types">
          {types.map((t) => (
            <option value={t} />
          ))}
        </datalist>
        <label for="ev-status">Status</label>
        <select id="ev-status" name="status">
          <option value="">Any status</option>
          {Object.entries(STATUS_LABEL).map(([value, label]) => (
            <option value={value}>{label}</option>
          ))}
        </select>
        <label for="ev-since">Since</label>
        <input id="ev-since" name="since" type="datetime-local" />
        <label for="ev-until">Until</label>
        <input id="ev-until" name="until" type="datetime-local" />
        <button type="submit">Apply</button>
      </form>
      {events === null ? (
        <p class="muted">Loading events...</p>
      ) : events.length === 0 ? (
        <div class="empty">
          <p>No events</p>
          <p class="muted">Events your application publishes, and test events, show here with every delivery.</p>
        </div>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Published</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Deliveries</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => [
              <tr key={e.id} data-event-id={e.id}>
                <td>
                  <When iso={e.occurredAt} />
                  <div class="muted">
                    <code>{e.id}</code>
                  </div>
                </td>
                <td>
                  <code>{e.type}</code>
                </td>
                <td>
                  <span class={`status status-${e.status}`}>{STATUS_LABEL[e.status]}</span>
                </td>
                <td>{deliveryCounts(e.deliveries)}</td>
                <td>
                  <button
                    type="button"
                    aria-expanded={open === e.id ? "true" : "false"}
                    onClick={() => setOpen(open === e.id ? null : e.id)}
                  >
                    {open === e.id ? "Hide" : "Details"}
                  </button>
                </td>
              </tr>,
              open === e.id && (
                <tr key={`${e.id}-detail`} class="detail">
                  <td colSpan={5}>
                    <EventPanel id={e.id} hooks={hooks} onClose={() => setOpen(null)} onError={props.onError} />
                  </td>
                </tr>
              ),
            ])}
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

function deliveryCounts(deliveries: LoggedEvent["deliveries"]): string {
  if (deliveries.length === 0) return "No webhook matched";
  const by = (s: string) => deliveries.filter((d) => d.status === s).length;
  const parts = [
    [by("succeeded"), "succeeded"],
    [by("failed"), "failed"],
    [by("pending"), "pending"],
    [by("cancelled"), "cancelled"],
  ].filter(([n]) => n);
  return parts.map(([n, what]) => `${n} ${what}`).join(", ");
}

/** One event: its entity, every delivery with its attempts, and Retry. */
function EventPanel(props: { id: string; hooks: Map<string, string>; onClose: () => void; onError: OnError }) {
  const [event, setEvent] = useState<EventDetail | null>(null);
  const load = async () => {
    try {
      setEvent((await data(keyhook().GET("/v1/events/{id}", { params: { path: { id: props.id } } }))).event);
    } catch (err) {
      props.onError(`Could not load the event: ${message(err)}`, load);
    }
  };
  useEffect(() => {
    setEvent(null);
    load();
  }, [props.id]);

  const retry = async (deliveryId: string) => {
    try {
      await data(keyhook().POST("/v1/deliveries/{id}/retry", { params: { path: { id: deliveryId } } }));
      setTimeout(load, 1500); // the new attempt shows once it is sent
    } catch (err) {
      props.onError(`Could not retry: ${message(err)}`);
    }
  };

  return (
    <section class="panel" aria-labelledby="event-heading">
      <div class="section-head">
        <h3 id="event-heading">
          Event <code>{props.id}</code>
        </h3>
        <span>
          <button type="button" onClick={load}>
            Refresh
          </button>{" "}
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </span>
      </div>
      {!event ? (
        <p class="muted">Loading the event...</p>
      ) : (
        <div>
          <p>
            <code>{event.type}</code> · published <When iso={event.occurredAt} /> ·{" "}
            <span class={`status status-${event.status}`}>{STATUS_LABEL[event.status]}</span>
          </p>
          <h4>Entity</h4>
          <pre>
            {event.contentDeletedAt
              ? "(deleted: the event's content is no longer kept)"
              : JSON.stringify(event.entity, null, 2)}
          </pre>
          <h4>Deliveries</h4>
          {event.deliveries.length === 0 ? (
            <p class="muted">No webhook was subscribed to this event.</p>
          ) : (
            <ul class="deliveries">
              {event.deliveries.map((d) => (
                <li key={d.id} data-delivery-id={d.id}>
                  <div>
                    <strong>{props.hooks.get(d.webhookId) ?? d.webhookId}</strong> ·{" "}
                    <span class={d.status === "succeeded" ? "ok" : d.status === "failed" ? "fail" : ""}>
                      {d.status}
                    </span>{" "}
                    · {d.attemptCount} {d.attemptCount === 1 ? "attempt" : "attempts"}
                    {d.nextAttemptAt && (
                      <span>
                        {" "}
                        · next <When iso={d.nextAttemptAt} />
                      </span>
                    )}
                  </div>
                  <ol>
                    {d.attempts.map((a) => (
                      <li key={a.id}>
                        <When iso={a.createdAt} /> ·{" "}
                        <span class={a.succeeded ? "ok" : "fail"}>{a.responseStatus ?? "no response"}</span> ·{" "}
                        {a.durationMs} ms
                        {a.failureReason && <span class="fail"> · {a.failureReason}</span>}
                      </li>
                    ))}
                  </ol>
                  {can.replay && d.status !== "pending" && (
                    <button type="button" onClick={() => retry(d.id)}>
                      Retry
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
