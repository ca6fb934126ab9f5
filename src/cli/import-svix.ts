import { ApiException, Svix } from "svix";

/**
 * `keyhook import svix --from <url> --token <token>`: copies a Svix organisation's applications,
 * event types and endpoints — uid, URL, secret, event types, channels, headers, throttle,
 * disabled, metadata — into Keyhook through its Svix API, with the official `svix` client on both
 * sides. Receivers change nothing: each endpoint keeps its secret. Run again, it changes what
 * changed and creates nothing twice: an application or endpoint without a `uid` is given its
 * source id as one, and is found by it. Messages and their history stay where they are.
 */
export interface ImportOptions {
  from: string;
  token: string;
  /** The Keyhook to import into (its URL and operator token). */
  to: string;
  toToken: string;
  dryRun: boolean;
  fetch?: typeof fetch;
}

export interface ImportSummary {
  eventTypes: { created: number; unchanged: number };
  applications: { created: number; found: number };
  endpoints: { created: number; updated: number };
  failed: string[];
}

/** Every page of a Svix list. */
async function all<T>(
  page: (iterator: string | undefined) => Promise<{ data: T[]; iterator?: string | null; done: boolean }>,
) {
  const out: T[] = [];
  let iterator: string | undefined;
  for (;;) {
    const p = await page(iterator);
    out.push(...p.data);
    if (p.done || !p.iterator) return out;
    iterator = p.iterator;
  }
}

const status = (err: unknown) => (err instanceof ApiException ? err.code : null);

export async function importSvix(opts: ImportOptions, say: (line: string) => void): Promise<ImportSummary> {
  const clientOpts = (serverUrl: string) => ({ serverUrl, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const source = new Svix(opts.token, clientOpts(opts.from));
  const target = new Svix(opts.toToken, clientOpts(opts.to));
  const summary: ImportSummary = {
    eventTypes: { created: 0, unchanged: 0 },
    applications: { created: 0, found: 0 },
    endpoints: { created: 0, updated: 0 },
    failed: [],
  };
  const verb = opts.dryRun ? "would " : "";

  for (const type of await all((iterator) => source.eventType.list({ iterator, limit: 250, withContent: true }))) {
    if (type.archived) continue;
    const exists = await target.eventType.get(type.name).then(
      () => true,
      (err) => (status(err) === 404 ? false : Promise.reject(err)),
    );
    if (exists) {
      summary.eventTypes.unchanged++;
      continue;
    }
    say(`${verb}create event type ${type.name}`);
    if (!opts.dryRun) {
      await target.eventType.create({
        name: type.name,
        description: type.description,
        ...(type.schemas ? { schemas: type.schemas } : {}),
        ...(type.groupName ? { groupName: type.groupName } : {}),
      });
    }
    summary.eventTypes.created++;
  }

  for (const app of await all((iterator) => source.application.list({ iterator, limit: 250 }))) {
    const uid = app.uid ?? app.id;
    const existing = await target.application.get(uid).then(
      (a) => a,
      (err) => (status(err) === 404 ? null : Promise.reject(err)),
    );
    if (existing) summary.applications.found++;
    else {
      summary.applications.created++;
      say(`${verb}create application ${app.name} (uid ${uid})`);
    }
    const appId = existing?.id ?? (opts.dryRun ? null : (await target.application.create({ name: app.name, uid })).id);

    for (const ep of await all((iterator) => source.endpoint.list(app.id, { iterator, limit: 250 }))) {
      const epUid = ep.uid ?? ep.id;
      try {
        const [secret, headers] = await Promise.all([
          source.endpoint.getSecret(app.id, ep.id),
          source.endpoint.getHeaders(app.id, ep.id),
        ]);
        const found =
          appId === null
            ? null
            : await target.endpoint.get(appId, epUid).then(
                (e) => e,
                (err) => (status(err) === 404 ? null : Promise.reject(err)),
              );
        const fields = {
          url: ep.url,
          description: ep.description,
          eventTypes: ep.eventTypes ?? null,
          channels: ep.channels ?? null,
          disabled: ep.disabled ?? false,
          ...(ep.throttleRate ? { throttleRate: ep.throttleRate } : {}),
          metadata: ep.metadata ?? {},
        };
        if (found && appId) {
          say(`${verb}update endpoint ${epUid} of ${uid}`);
          if (!opts.dryRun) {
            await target.endpoint.patch(appId, found.id, fields);
            await target.endpoint.setHeaders(appId, found.id, { headers: headers.headers });
            const current = await target.endpoint.getSecret(appId, found.id);
            if (current.key !== secret.key) {
              await target.endpoint.rotateSecret(appId, found.id, { key: secret.key });
            }
          }
          summary.endpoints.updated++;
        } else {
          say(`${verb}create endpoint ${epUid} of ${uid} (${ep.url})`);
          if (!opts.dryRun && appId) {
            await target.endpoint.create(appId, {
              ...fields,
              eventTypes: fields.eventTypes ?? undefined,
              channels: fields.channels ?? undefined,
              uid: epUid,
              secret: secret.key,
              headers: headers.headers,
            });
          }
          summary.endpoints.created++;
        }
      } catch (err) {
        const why = err instanceof ApiException ? `${err.code} ${JSON.stringify(err.body)}` : String(err);
        summary.failed.push(`endpoint ${epUid} of ${uid}: ${why}`);
      }
    }
  }
  return summary;
}
