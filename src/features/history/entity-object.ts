import { DependencyUnavailable } from "../../lib/dependencies";
import { readStoredJson } from "../../lib/json-depth";
import { accountPrefix } from "./archive-object";

/**
 * Entities too large for D1 (payloads up to 1 MiB, Svix's limit): over {@link ENTITY_INLINE_MAX}
 * characters of JSON, an event's entity is written to R2 first, under its account's prefix (so
 * deleting the account deletes it), and D1 keeps a reference in its place — a JSON object no
 * published entity can be (the top-level `$keyhook` key is refused at publish). The object is found
 * by the row's own account and id, never by what the reference says. It lives as long as the event's
 * row: archived, the entity goes whole into the archive object (recalled, it is written to R2
 * again); its content deleted, the object is deleted.
 */
const ENTITY_INLINE_MAX = 16 * 1024;

const MARK = '{"$keyhook":{"r2":';

/** The top-level key a published entity may not have. */
export const RESERVED_ENTITY_KEY = "$keyhook";

const entityKey = (accountId: string, eventId: string) => `${accountPrefix(accountId)}entities/${eventId}.json`;

/** Whether what D1 holds for an entity is a reference to its R2 object. */
export const isEntityRef = (stored: string) => stored.startsWith(MARK);

/** A reference, parsed (as the archive and the views see it): `{"$keyhook": {"r2": bytes}}`. */
const isEntityRefObject = (entity: unknown) =>
  typeof entity === "object" && entity !== null && RESERVED_ENTITY_KEY in entity && Object.keys(entity).length === 1;

/** What D1 is to keep for an entity: itself, or (too large) a reference to the R2 object written now. */
export async function storeEntity(bucket: R2Bucket, accountId: string, eventId: string, text: string) {
  if (text.length <= ENTITY_INLINE_MAX) return text;
  try {
    await bucket.put(entityKey(accountId, eventId), text, { httpMetadata: { contentType: "application/json" } });
  } catch (cause) {
    throw new DependencyUnavailable("R2", { cause });
  }
  return `${MARK}${text.length}}}`;
}

/** The entity's text: as D1 holds it, or read from R2 for a reference (a missing object throws). */
export async function loadEntity(bucket: R2Bucket, accountId: string, eventId: string, stored: string) {
  if (!isEntityRef(stored)) return stored;
  let object: R2ObjectBody | null;
  try {
    object = await bucket.get(entityKey(accountId, eventId));
  } catch (cause) {
    throw new DependencyUnavailable("R2", { cause });
  }
  if (!object) throw new Error(`The entity of ${eventId} is missing from R2`);
  return object.text();
}

/** Deletes the R2 objects of these events' entities (those without one cost nothing: R2 deletes are free). */
export async function forgetEntities(bucket: R2Bucket, events: readonly { accountId: string; id: string }[]) {
  for (let i = 0; i < events.length; i += 1000) {
    await bucket.delete(events.slice(i, i + 1000).map((e) => entityKey(e.accountId, e.id)));
  }
}

/**
 * Records read from D1 as the history shows them: an entity kept in R2 is read back and parsed
 * (records from the archive hold theirs whole). A missing object leaves the reference shown.
 */
export async function withEntityObjects<E extends { accountId: string; id: string; entity: Record<string, unknown> }>(
  bucket: R2Bucket,
  records: E[],
): Promise<E[]> {
  return Promise.all(
    records.map(async (r) => {
      if (!isEntityRefObject(r.entity)) return r;
      const object = await bucket.get(entityKey(r.accountId, r.id));
      if (!object) return r;
      return { ...r, entity: (readStoredJson(await object.text()) ?? {}) as Record<string, unknown> };
    }),
  );
}
