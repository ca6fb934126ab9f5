import { useEffect, useState } from "hono/jsx/dom";
import { data, keyhook, message, type Schemas } from "./api";
import { When } from "./components";

type Storage = Schemas["DeploymentStorage"];
type OnError = (text: string, retry?: () => void) => void;

/** Bytes as people read them (decimal units, like D1's limits: 10 GB). */
function bytes(n: number | null): string {
  if (n === null) return "not measured yet";
  if (n < 1_000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1_000;
  let i = 0;
  while (v >= 1_000 && i < units.length - 1) {
    v /= 1_000;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/**
 * The deployment's storage (operator): D1's size, the webhook history's share of it against its
 * budget (`HISTORY_MAX_MB`), and the archive in R2. The cron measures the history every minute.
 */
export function DeploymentStorageSection(props: { onError: OnError }) {
  const [storage, setStorage] = useState<Storage | null>(null);
  const load = async () => {
    try {
      setStorage(await data(keyhook().GET("/v1/deployment/storage")));
    } catch (err) {
      props.onError(`Could not load the deployment's storage: ${message(err)}`, load);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const h = storage?.history;
  return (
    <section aria-labelledby="storage-heading" class="spaced">
      <div class="section-head">
        <h2 id="storage-heading">Deployment storage</h2>
      </div>
      {!storage || !h ? (
        <p class="muted">Loading...</p>
      ) : (
        <>
          {h.problem && (
            <p class="banner" role="alert">
              {h.problem}
            </p>
          )}
          <table aria-label="Deployment storage">
            <tbody>
              <tr>
                <th scope="row">D1 database</th>
                <td>{bytes(storage.d1.bytes)}</td>
              </tr>
              <tr>
                <th scope="row">Webhook history in D1</th>
                <td>
                  {bytes(h.bytes)}
                  {h.share !== null && ` (${Math.round(h.share * 100)}% of D1)`} of a {bytes(h.budgetBytes)} budget
                  {h.events !== null && `, ${h.events.toLocaleString("en")} events`}
                  <span class="muted">
                    {" "}
                    · measured <When iso={h.measuredAt} never="never" />
                  </span>
                </td>
              </tr>
              <tr>
                <th scope="row">Last minute's publishing</th>
                <td>{bytes(h.lastMinuteBytes)}</td>
              </tr>
              <tr>
                <th scope="row">Moved to R2 early</th>
                <td>
                  {h.movedEarly ? (
                    <>
                      {h.movedEarly.events.toLocaleString("en")} events ({bytes(h.movedEarly.bytes)}),{" "}
                      <When iso={h.movedEarly.at} />
                    </>
                  ) : (
                    `Never: events move after ${storage.hotHours} h`
                  )}
                </td>
              </tr>
              <tr>
                <th scope="row">Archive in R2</th>
                <td>
                  {bytes(storage.archive.bytes)} in {storage.archive.objects.toLocaleString("en")} objects,{" "}
                  {storage.archive.events.toLocaleString("en")} events
                </td>
              </tr>
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
