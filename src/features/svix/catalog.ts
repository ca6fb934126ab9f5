import { eq } from "drizzle-orm";
import { type DeploymentEventTypeRow, deploymentEventTypes } from "../../db/schema";
import type { AuditContext } from "../../lib/caller";
import { ApiError } from "../../lib/errors";
import type { Platform } from "../../platform";
import { insertAudit } from "../audit/audit.repo";
import { auditRow, DEPLOYMENT_LOG, diff } from "../audit/audit.service";

/**
 * The deployment's event types, as Svix's API keeps them: one catalog for the organisation (every
 * application may use them), names as Svix allows them, schemas by version. Svix's
 * `POST /api/v1/event-type` creates or unarchives (409 when the type exists and is live); `PUT`
 * upserts; `DELETE` archives, or with `expunge` deletes. Every change is written in the
 * deployment's log with the change (`event_type.created`, `.updated`, `.archived`, `.deleted`).
 */
export interface EventTypeInput {
  description?: string;
  schemas?: Record<string, unknown> | null;
  groupName?: string | null;
  archived?: boolean;
  deprecated?: boolean;
}

/** What the log records of a type (its schemas as their versions: they may be large). */
const audited = (r: DeploymentEventTypeRow | undefined) =>
  r
    ? {
        description: r.description,
        groupName: r.groupName,
        schemaVersions: r.schemas ? Object.keys(r.schemas) : null,
        archived: r.archived,
        deprecated: r.deprecated,
      }
    : null;

export function createSvixCatalog({ db, now }: Pick<Platform, "db" | "now">, audit: AuditContext) {
  const find = (name: string) =>
    db.select().from(deploymentEventTypes).where(eq(deploymentEventTypes.name, name)).get();
  const entry = (
    name: string,
    action: string,
    before: DeploymentEventTypeRow | undefined,
    after?: DeploymentEventTypeRow,
  ) =>
    auditRow(
      audit,
      DEPLOYMENT_LOG,
      action,
      { type: "event_type", id: name, name },
      diff(audited(before), audited(after)),
      now(),
    );
  const write = async (name: string, input: EventTypeInput, existing: DeploymentEventTypeRow | undefined) => {
    const at = now();
    const row: DeploymentEventTypeRow = {
      name,
      description: input.description ?? existing?.description ?? "",
      schemas: input.schemas === undefined ? (existing?.schemas ?? null) : input.schemas,
      groupName: input.groupName === undefined ? (existing?.groupName ?? null) : input.groupName,
      archived: input.archived ?? false,
      deprecated: input.deprecated ?? existing?.deprecated ?? false,
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
    };
    const action = !existing
      ? "event_type.created"
      : row.archived && !existing.archived
        ? "event_type.archived"
        : "event_type.updated";
    await db.batch([
      db
        .insert(deploymentEventTypes)
        .values(row)
        .onConflictDoUpdate({ target: deploymentEventTypes.name, set: { ...row, createdAt: undefined } }),
      insertAudit(db, entry(name, action, existing, row)),
    ]);
    return row;
  };

  return {
    async list(opts: { includeArchived: boolean; limit: number; after?: string }) {
      const rows = await db.select().from(deploymentEventTypes).orderBy(deploymentEventTypes.name).all();
      const shown = rows.filter((r) => (opts.includeArchived || !r.archived) && (!opts.after || r.name > opts.after));
      const page = shown.slice(0, opts.limit);
      return { rows: page, more: shown.length > page.length };
    },

    async get(name: string) {
      const row = await find(name);
      if (!row) throw new ApiError("not_found", "Event type not found");
      return row;
    },

    /** Creates it, or unarchives it; 409 when it exists and is live. */
    async create(name: string, input: EventTypeInput) {
      const existing = await find(name);
      if (existing && !existing.archived) throw new ApiError("conflict", `Event type ${name} already exists`);
      return write(name, input, existing);
    },

    /** Creates or replaces it; says which. */
    async upsert(name: string, input: EventTypeInput) {
      const existing = await find(name);
      return { row: await write(name, input, existing), created: !existing };
    },

    async patch(name: string, input: EventTypeInput) {
      const existing = await find(name);
      if (!existing) throw new ApiError("not_found", "Event type not found");
      return write(name, { archived: existing.archived, ...input }, existing);
    },

    async remove(name: string, expunge: boolean) {
      const existing = await find(name);
      if (!existing) throw new ApiError("not_found", "Event type not found");
      if (expunge) {
        await db.batch([
          db.delete(deploymentEventTypes).where(eq(deploymentEventTypes.name, name)),
          insertAudit(db, entry(name, "event_type.deleted", existing)),
        ]);
      } else await write(name, { archived: true }, existing);
    },
  };
}
