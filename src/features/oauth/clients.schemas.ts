import { z } from "@hono/zod-openapi";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { Timestamp } from "../../lib/schemas";

const RedirectUris = z
  .array(z.string().max(2000))
  .min(1)
  .max(10)
  .openapi({
    description: "Exact redirect URIs: https, or http to a loopback host (any port)",
    example: ["https://app.example.com/oauth/callback"],
  });

const Scopes = z
  .array(
    z
      .string()
      .regex(PERMISSION_PATTERN, "must be resource:action, resource:* or *")
      .refine((s) => s !== "impersonate", "impersonate is never an app's"),
  )
  .min(1)
  .max(100)
  .openapi({
    description:
      "What it may ask for; no one can allow more than they hold. Never `impersonate`; `*` is granted as Keyhook's permissions but `impersonate`",
    example: ["keys:read"],
  });

export const OAuthClient = z
  .object({
    id: z.string().openapi({ description: "The client_id" }),
    name: z.string(),
    type: z.enum(["confidential", "public"]),
    redirectUris: z.array(z.string()),
    scopes: z.array(z.string()),
    enabled: z.boolean(),
    secretLast4: z.string().nullable().openapi({ description: "Confidential clients: the secret's last 4 characters" }),
    dynamic: z.boolean().openapi({ description: "Registered by itself (RFC 7591), not by an account or the operator" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("OAuthClient");

export const CreateClientBody = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({ example: "Zapier" }),
  type: z.enum(["confidential", "public"]).default("confidential").openapi({
    description: "confidential: has a secret, may use client_credentials; public: PKCE only (SPAs, native, CLI)",
  }),
  redirectUris: RedirectUris.optional(),
  scopes: Scopes,
});

export const CreateDeploymentClientBody = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({ example: "Keyhook for VS Code" }),
  redirectUris: RedirectUris,
  scopes: Scopes,
});

export const UpdateClientBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  redirectUris: RedirectUris.optional(),
  scopes: Scopes.optional(),
  enabled: z.boolean().optional().openapi({ description: "false: its tokens are refused from the next request" }),
});

export const ClientEnvelope = z.object({ client: OAuthClient });
export const Clients = z.object({ clients: z.array(OAuthClient), nextCursor: z.string().nullable() });
export const WithSecret = z.object({
  client: OAuthClient,
  clientSecret: z.string().nullable().openapi({ description: "Shown once; null for public clients" }),
});

export const OAuthGrant = z
  .object({
    id: z.string(),
    client: z.object({ id: z.string(), name: z.string() }),
    userId: z.string(),
    userName: z.string(),
    scopes: z.array(z.string()).openapi({ description: "What the user allowed (acting within what they hold)" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
  })
  .openapi("OAuthGrant");

export const UserHoldingsBody = z.strictObject({
  role: z.enum(["admin", "member"]),
  permissions: z.array(z.string().regex(PERMISSION_PATTERN)).max(100).default([]),
  profileId: z.string().min(1).max(100).nullable().default(null),
});
