import { z } from "@hono/zod-openapi";
import { Timestamp } from "../../lib/schemas";

/**
 * `issue.resolved`, `lap.created` — or any name Svix allows (`invoice-paid`, `User.Created.v2`):
 * letters, digits, `-`, `_` and `.`, at most 256. Keyhook's own types are `resource.action`.
 */
export const EventTypeName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9\-_.]+$/, "letters, digits, -, _ and . only (e.g. issue.resolved)")
  .openapi({ example: "issue.resolved" });

/** An entity of up to 1 MiB as JSON (Svix's payload limit); over 16 KiB it is kept in R2 (`history/entity-object.ts`). */
export const MAX_ENTITY_BYTES = 1024 * 1024;

export const PublishBody = z.strictObject({
  type: EventTypeName,
  entity: z
    .record(z.string(), z.unknown())
    .openapi({ example: { id: "iss_1", severity: "major", status: "resolved" } }),
  idempotencyKey: z.string().min(1).max(255).optional(),
  channels: z
    .array(z.string().min(1).max(128))
    .max(10)
    .optional()
    .openapi({
      description:
        "Svix's channels: a webhook with channels receives this event only if it names one of these; one without, whatever the channels",
      example: ["project-123"],
    }),
  tags: z
    .array(
      z
        .string()
        .min(1)
        .max(128)
        .regex(/^[a-zA-Z0-9\-_./\\#]+$/, "letters, digits and - _ . / \\ # only"),
    )
    .max(5)
    .optional()
    .openapi({
      description: "Svix's tags: labels to find the event by (`GET /api/v1/app/{app}/msg?tag=`)",
      example: ["vip"],
    }),
});

export const Event = z
  .object({
    id: z.string(),
    type: z.string(),
    accountId: z.string(),
    occurredAt: Timestamp,
    entity: z.record(z.string(), z.unknown()).openapi({ description: "`{}` once the content was deleted" }),
    contentDeletedAt: Timestamp.nullable().openapi({
      description: "When the entity and its attempts' bodies were deleted (by hand, or past the retention)",
    }),
  })
  .openapi("Event");

export const DeliverySummary = z
  .object({ id: z.string(), webhookId: z.string(), status: z.enum(["pending", "succeeded", "failed", "cancelled"]) })
  .openapi("DeliverySummary");

const EntitySchemaField = z.union([z.record(z.string(), z.unknown()), z.boolean()]).openapi({
  description: "A JSON Schema (draft 2020-12) of the entity",
  example: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
});

export const EventType = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    group: z.string().nullable().openapi({ description: "Where the catalog lists it (e.g. `billing`)" }),
    schema: EntitySchemaField.nullable(),
    examples: z.array(z.record(z.string(), z.unknown())),
    example: z.unknown().openapi({ description: "The first of `examples` (null if none)" }),
    validate: z.boolean().openapi({ description: "Publish refuses an entity that does not match `schema` (400)" }),
    deprecated: z.boolean(),
    archived: z.boolean().openapi({ description: "Hidden from the catalog unless asked for; publishing it works" }),
    builtIn: z.boolean(),
  })
  .openapi("EventType");

export const RegisterEventTypeBody = z
  .strictObject({
    name: EventTypeName,
    description: z.string().max(500).optional(),
    group: z
      .string()
      .min(1)
      .max(60)
      .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, "letters, digits, spaces, '.', '_' and '-'")
      .nullable()
      .optional(),
    schema: EntitySchemaField.nullable().optional(),
    examples: z.array(z.record(z.string(), z.unknown())).max(5).optional(),
    example: z.record(z.string(), z.unknown()).optional().openapi({ description: "One example (as `examples: [it]`)" }),
    validate: z.boolean().optional(),
    deprecated: z.boolean().optional(),
    archived: z.boolean().optional(),
  })
  .refine((b) => !(b.example && b.examples), { message: "send example or examples, not both", path: ["examples"] })
  .refine((b) => !(b.validate && b.schema === null), { message: "validate needs a schema", path: ["validate"] })
  .openapi({
    description:
      "Registers a type, or changes the one of that name: fields left out keep their value. Examples must match the schema.",
  });
