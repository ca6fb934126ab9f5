import type { z } from "@hono/zod-openapi";
import type { PortalSessionRow } from "../../db/schema";
import type { Caller } from "../../lib/caller";
import { sha256Hex } from "../../lib/crypto";
import { newId, randomBase62 } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { assertCanGrant } from "../../lib/permissions";
import type { Principal } from "../../lib/principal";
import { found, iso } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { auditRow } from "../audit/audit.service";
import * as repo from "./portal.repo";
import {
  type CreatePortalSessionBody,
  PORTAL_LINK_TTL_SECONDS,
  type PortalSession,
  type PortalSessionView,
  type PortalTheme,
} from "./portal.schemas";

/** A portal session's request, admitted: who it acts as, and the account's `webhooksVersion`. */
export interface PortalAdmission {
  principal: Principal;
  webhooksVersion: number;
  view: PortalSessionView;
}

/**
 * A logo the page can show under its CSP: a data URI of an image, or https on an origin that may
 * frame the portal (the only other origins `img-src` lists).
 */
function checkTheme(theme: z.infer<typeof PortalTheme> | undefined, ancestors: readonly string[]) {
  const logo = theme?.logoUrl;
  if (!logo) return;
  if (/^data:image\/(png|gif|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$/.test(logo)) return;
  let origin: string | null = null;
  try {
    const url = new URL(logo);
    if (url.protocol === "https:") origin = url.origin;
  } catch {}
  if (origin && ancestors.includes(origin)) return;
  throw new ApiError(
    "validation_failed",
    "The logo must be a data:image URI or https on a PORTAL_FRAME_ANCESTORS origin",
    [{ path: "theme.logoUrl", message: "not on an allowed origin" }],
  );
}

const view = (row: PortalSessionRow, accountName: string): PortalSessionView => ({
  id: row.id,
  accountId: row.accountId,
  accountName,
  capabilities: row.capabilities,
  theme: row.theme,
  returnUrl: row.returnUrl,
  expiresAt: iso(row.expiresAt),
});

/**
 * Customer portal sessions: a single-use link, made by the operator or an account's key with
 * `portal:write`, that the portal exchanges for a cookie session limited to its capabilities in
 * one account. Both secrets are random and stored as SHA-256 only.
 */
export function createPortalService(platform: Platform) {
  const { db, now, settings } = platform;

  return {
    /** `POST /v1/portal-sessions`. The creator must hold each capability it hands out. */
    async create(
      creator: Pick<Caller, "principal" | "audit">,
      input: z.infer<typeof CreatePortalSessionBody>,
      origin: string,
    ): Promise<z.infer<typeof PortalSession>> {
      const { principal } = creator;
      let accountId = principal.accountId;
      if (principal.type === "operator") {
        const by = input.accountId
          ? { id: input.accountId }
          : input.externalId
            ? { externalId: input.externalId }
            : accountId
              ? { id: accountId }
              : null;
        if (!by) throw new ApiError("missing_account", "Name the account: accountId or externalId");
        accountId = found(await repo.findAccount(db, by), "Account").id;
      } else if ((input.accountId && input.accountId !== accountId) || input.externalId) {
        throw new ApiError("insufficient_scope", "A key makes portal sessions for its own account only", {
          missing: ["operator"],
        });
      }
      if (!accountId) throw new ApiError("missing_account", "Name the account: accountId or externalId");
      assertCanGrant(principal.permissions, input.capabilities);
      checkTheme(input.theme, settings.portalFrameAncestors);

      const at = now();
      const capabilities = [...new Set(["webhooks:read", ...input.capabilities])];
      const link = `khp_${randomBase62(40)}`;
      const row: PortalSessionRow = {
        id: newId("ps", at),
        accountId,
        capabilities,
        theme: input.theme ?? {},
        returnUrl: input.returnUrl ?? null,
        linkHash: await sha256Hex(link),
        linkExpiresAt: at + Math.min(PORTAL_LINK_TTL_SECONDS, input.expiresIn) * 1000,
        openedAt: null,
        sessionHash: null,
        expiresAt: at + input.expiresIn * 1000,
        revokedAt: null,
        createdBy: { type: principal.type, id: principal.id, name: principal.name },
        createdAt: at,
      };
      const target = { type: "portal_session", id: row.id, name: input.theme?.name ?? null };
      const changes = { capabilities: { before: null, after: capabilities } };
      await repo.insertSession(
        db,
        row,
        auditRow(creator.audit, accountId, "portal_session.created", target, changes, at),
      );
      return {
        id: row.id,
        accountId,
        capabilities: row.capabilities as z.infer<typeof PortalSession>["capabilities"],
        url: `${origin}/portal/open?token=${link}`,
        linkExpiresAt: iso(row.linkExpiresAt),
        expiresAt: iso(row.expiresAt),
        createdAt: iso(at),
      };
    },

    /** `DELETE /v1/portal-sessions/{id}`: its next request is refused. Revoking twice is no error. */
    async revoke(caller: Caller, id: string) {
      const at = now();
      const row = found(await repo.findSession(db, caller.accountId, id), "Portal session");
      if (row.revokedAt === null) {
        const target = { type: "portal_session", id, name: row.theme.name ?? null };
        await repo.revokeSession(
          db,
          caller.accountId,
          id,
          at,
          auditRow(caller.audit, caller.accountId, "portal_session.revoked", target, null, at),
        );
      }
      return { id, revoked: true as const };
    },

    /**
     * The link's one use: a new session secret for the cookie, or null when the link is unknown,
     * opened before, revoked or expired (the page says so; nothing tells these apart).
     */
    async open(link: string): Promise<{ secret: string; maxAgeSeconds: number } | null> {
      if (!/^khp_[0-9A-Za-z]{40}$/.test(link)) return null;
      const secret = randomBase62(43);
      const at = now();
      const row = await repo.openLink(db, await sha256Hex(link), await sha256Hex(secret), at);
      return row ? { secret, maxAgeSeconds: Math.max(1, Math.floor((row.expiresAt - at) / 1000)) } : null;
    },

    /** The session behind a cookie: one D1 read (the session and its account), or null. */
    async admit(secret: string): Promise<PortalAdmission | null> {
      if (!/^[0-9A-Za-z]{43}$/.test(secret)) return null;
      const hit = await repo.findLiveSession(db, await sha256Hex(secret), now());
      if (!hit) return null;
      const { session } = hit;
      const name = session.theme.name ? `${session.theme.name} portal` : "Customer portal";
      return {
        principal: {
          type: "portal",
          id: session.id,
          name,
          accountId: session.accountId,
          permissions: session.capabilities,
        },
        webhooksVersion: hit.webhooksVersion,
        view: view(session, hit.accountName),
      };
    },

    /** Signing out of the portal ends the session. */
    async end(secret: string) {
      if (/^[0-9A-Za-z]{43}$/.test(secret)) await repo.endSession(db, await sha256Hex(secret), now());
    },

    /** The cron's: sessions past their end, at most 1000 a run. */
    async prune() {
      return (await repo.deleteExpired(db, now(), 1000)).meta.changes ?? 0;
    },
  };
}

export type PortalService = ReturnType<typeof createPortalService>;
