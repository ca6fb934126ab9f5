import { createRouter } from "../../lib/create-router";
import { page } from "../../lib/schemas";
import { listAudit } from "./audit.repo";
import * as routes from "./audit.routes";
import { toAuditEntry } from "./audit.service";

export const auditRouter = createRouter().openapi(routes.list, async (c) => {
  const { limit, cursor, since, until, ...filter } = c.req.valid("query");
  const rows = await listAudit(
    c.var.db,
    c.var.accountId,
    {
      ...filter,
      cursor,
      since: since === undefined ? undefined : Date.parse(since),
      until: until === undefined ? undefined : Date.parse(until),
    },
    limit + 1,
  );
  const { items, nextCursor } = page(rows, limit);
  return c.json({ entries: items.map(toAuditEntry), nextCursor }, 200);
});
