import type { Child } from "hono/jsx";
import { HtmlPage } from "../../lib/html-page";
import { APP_SCOPES } from "./scopes";

/** Keyhook's own permissions in words, for the consent page; others are shown as written. */
const WORDS: Record<string, string> = {
  "*": "Everything you can do in your account",
  "keys:read": "See API keys and their usage",
  "keys:write": "Create, change, rotate and revoke API keys",
  "keys:verify": "Verify API keys",
  "webhooks:read": "See webhooks and their delivery history",
  "webhooks:write": "Create, change and delete webhooks, send test events and retry deliveries",
  "events:write": "Publish events to your webhooks",
  "audit:read": "Read the audit log",
  "oauth:read": "See OAuth apps and the apps you authorized",
  "oauth:write": "Manage OAuth apps and revoke authorized apps",
  impersonate: "Act as other users of your account",
};

function scopeInWords(scope: string): string {
  const known = WORDS[scope];
  if (known) return known;
  const [resource, action] = scope.split(":");
  return action === "*" ? `Everything on ${resource}` : `${resource}: ${action}`;
}

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** The security headers `/admin` is served with (public/_headers), for the Worker's own pages. */
export const PAGE_HEADERS = {
  "Content-Security-Policy": CSP,
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/**
 * The consent page's: the same, except that its form may also end at the client's redirect URI —
 * browsers apply `form-action` to the redirect that follows the post, too.
 */
export const consentHeaders = (redirectUri: string) => ({
  ...PAGE_HEADERS,
  "Content-Security-Policy": `${CSP} ${new URL(redirectUri).origin}`,
});

function Page(props: { title: string; children: Child }) {
  return (
    <HtmlPage title={`${props.title} · Keyhook`}>
      <main class="panel consent">{props.children}</main>
    </HtmlPage>
  );
}

/** Whether an app asked for everything an app may hold (`*`, spelled out as `APP_SCOPES`). */
const everything = (scopes: readonly string[]) => APP_SCOPES.every((s) => scopes.includes(s));

/** Allow / Deny for one client's request, posted back with the signed request. */
export function ConsentPage(props: {
  clientName: string;
  /** Registered by itself (RFC 7591): its name is its own claim. */
  dynamic: boolean;
  /** Where Allow or Deny sends the browser. */
  redirectOrigin: string;
  userName: string;
  scopes: string[];
  request: string;
}) {
  return (
    <Page title={`Authorize ${props.clientName}`}>
      <h1>Authorize {props.clientName}</h1>
      <p>
        <strong>{props.clientName}</strong> wants to act for you, <strong>{props.userName}</strong>, and be able to:
      </p>
      {everything(props.scopes) ? (
        <p>
          Everything you can do in your account, except acting as other users — that is, within what you hold yourself:
        </p>
      ) : null}
      <ul>
        {props.scopes.map((s) => (
          <li>{scopeInWords(s)}</li>
        ))}
      </ul>
      {props.dynamic ? (
        <p class="notice">
          This app registered itself: its name is its own claim, not checked by anyone. Allow it only if you started
          this from an app you trust.
        </p>
      ) : null}
      <p class="muted">
        Afterwards you will be sent to <strong>{props.redirectOrigin}</strong>. It never gets more than you can do
        yourself. You can revoke its access at any time under Authorized apps.
      </p>
      <form method="post" action="/oauth/authorize">
        <input type="hidden" name="request" value={props.request} />
        <div class="form-actions">
          <button type="submit" name="decision" value="deny">
            Deny
          </button>
          <button type="submit" name="decision" value="allow" class="primary">
            Allow
          </button>
        </div>
      </form>
    </Page>
  );
}

/** An authorization request that cannot be sent back to any client (unknown client, bad redirect). */
export function ErrorPage(props: { message: string }) {
  return (
    <Page title="Authorization failed">
      <h1>This authorization request cannot be completed</h1>
      <p role="alert">{props.message}</p>
      <p class="muted">Go back to the app you came from and try again, or contact its developer.</p>
    </Page>
  );
}
