import { z } from "@hono/zod-openapi";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { ActorSchema, Timestamp } from "../../lib/schemas";

const Scopes = z
  .array(z.string().regex(PERMISSION_PATTERN, "must be resource:action, resource:* or *"))
  .min(1)
  .max(100)
  .openapi({
    description:
      "`*` (everything the operator token may do), `operator:read` (the operator's GET routes and the Svix API's reads), `operator:write` (every operator route and the whole Svix API), and account permissions (`webhooks:read`, …) for `/v1` routes with `X-Account-Id`. No one grants what they do not hold",
    example: ["operator:write", "webhooks:write", "events:write"],
  });

export const OperatorKey = z
  .object({
    id: z.string().openapi({ example: "opk_0Mk3…" }),
    name: z.string(),
    prefix: z.string().openapi({ description: "The key's first characters, to recognize it", example: "kh_op_Ab3x" }),
    last4: z.string(),
    scopes: z.array(z.string()),
    status: z.enum(["active", "expired", "revoked"]),
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable().openapi({ description: "To the hour" }),
    createdBy: ActorSchema,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("OperatorKey");

export const CreateOperatorKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({ example: "Svix client in billing-service" }),
  scopes: Scopes.default(["*"]),
  expiresAt: z.string().datetime().optional().openapi({ description: "Refused from then on" }),
});

export const UpdateOperatorKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  scopes: Scopes.optional(),
});

export const OperatorKeyEnvelope = z.object({ operatorKey: OperatorKey });
export const WithSecret = z
  .object({
    operatorKey: OperatorKey,
    key: z.string().openapi({ description: "Shown once: Keyhook keeps only its SHA-256", example: "kh_op_…" }),
  })
  .openapi("OperatorKeyWithSecret");
export const OperatorKeys = z.object({ operatorKeys: z.array(OperatorKey), nextCursor: z.string().nullable() });
