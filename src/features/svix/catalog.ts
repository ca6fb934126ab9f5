import { eq } from "drizzle-orm";
import { type DeploymentEventTypeRow, deploymentEventTypes } from "../../db/schema";
import { ApiError } from "../../lib/errors";
import type { Platform } from "../../platform";

/**
 * The deployment's event types, as Svix's API keeps them: one catalog for the organisation (every
 * application may use them), names as Svix allows them, schemas by version. Svix's
 * `POST /api/v1/event-type` creates or unarchives (409 when the type exists and is live); `PUT`
 * upserts; `DELETE` archives, or with `expunge` deletes.
 */
export interface EventTypeInput {
  description?: string;
  schemas?: Record<string, unknown> | null;
  groupName?: string | null;
  archived?: boolean;
  deprecated?: boolean;
}

export function createSvixCatalog({ db, now }: Pick<Platform, "db" | "now">) {
  const find = (name: string) =>
    db.select().from(deploymentEventTypes).where(eq(deploymentEventTypes.name, name)).get();
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
    await db
      .insert(deploymentEventTypes)
      .values(row)
      .onConflictDoUpdate({ target: deploymentEventTypes.name, set: { ...row, createdAt: undefined } });
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
      if (expunge) await db.delete(deploymentEventTypes).where(eq(deploymentEventTypes.name, name));
      else await write(name, { archived: true }, existing);
    },
  };
}
