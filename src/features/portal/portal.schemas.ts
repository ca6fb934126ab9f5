import { z } from "@hono/zod-openapi";
import { Timestamp } from "../../lib/schemas";

/** What a portal session may do: view (always), change endpoints, send events again. */
const PORTAL_CAPABILITIES = ["webhooks:read", "webhooks:write", "events:replay"] as const;
const PortalCapability = z.enum(PORTAL_CAPABILITIES);

/** How long the link stays valid to open, at most (the session then lives `expiresIn`). */
export const PORTAL_LINK_TTL_SECONDS = 15 * 60;

export const PortalTheme = z
  .strictObject({
    name: z.string().trim().min(1).max(60).optional().openapi({ description: "Shown as the portal's title" }),
    logoUrl: z.string().max(32_768).optional().openapi({
      description:
        "A `data:image/…` URI, or an https URL on an origin in `PORTAL_FRAME_ANCESTORS` (the page's CSP allows only those)",
    }),
    accent: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, "must be a colour as #rrggbb")
      .optional()
      .openapi({ description: "Buttons and links", example: "#4f46e5" }),
  })
  .openapi("PortalTheme");

export const CreatePortalSessionBody = z
  .strictObject({
    accountId: z.string().min(1).max(100).optional().openapi({ description: "The operator names the account…" }),
    externalId: z.string().min(1).max(200).optional().openapi({ description: "…or its externalId" }),
    capabilities: z
      .array(PortalCapability)
      .min(1)
      .max(3)
      .default(["webhooks:read"])
      .openapi({ description: "Every session can view; `webhooks:write` and `events:replay` add to it" }),
    expiresIn: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .default(3600)
      .openapi({ description: "Seconds the session lasts once the link is opened (the link itself: 15 minutes)" }),
    returnUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional()
      .openapi({ description: "Where the portal's “Back” link goes" }),
    theme: PortalTheme.optional(),
  })
  .refine((b) => !(b.accountId && b.externalId), { message: "Name the account by accountId or externalId, not both" });

export const PortalSession = z
  .object({
    id: z.string(),
    accountId: z.string(),
    capabilities: z.array(PortalCapability),
    url: z.string().openapi({ description: "Open once (in a browser or an iframe's src) within 15 minutes" }),
    linkExpiresAt: Timestamp,
    expiresAt: Timestamp.openapi({ description: "The session's end, at the latest" }),
    createdAt: Timestamp,
  })
  .openapi("PortalSession");

/** What the portal page learns about its own session (`GET /portal/api/session`). */
export interface PortalSessionView {
  id: string;
  accountId: string;
  accountName: string;
  capabilities: string[];
  theme: z.infer<typeof PortalTheme>;
  returnUrl: string | null;
  expiresAt: string;
}
