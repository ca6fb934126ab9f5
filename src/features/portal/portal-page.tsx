import { HtmlPage } from "../../lib/html-page";

/**
 * The portal's HTML: the shell the page's script (`/admin/portal.js`) renders into, and the page a
 * used, expired or revoked link or session gets. The theme is applied by the script (CSSOM is not
 * inline style, so the CSP stays `style-src 'self'`).
 */
export function PortalShell() {
  return (
    <HtmlPage title="Webhooks">
      <div id="root" />
      <script type="module" src="/admin/portal.js" />
    </HtmlPage>
  );
}

export function PortalClosed() {
  return (
    <HtmlPage title="Portal link expired">
      <main class="panel consent">
        <h1>This link can no longer be used</h1>
        <p>
          A portal link opens once, within 15 minutes, and its session ends after a while or when it is revoked. Go back
          to the application you came from and open the webhooks portal again for a new link.
        </p>
      </main>
    </HtmlPage>
  );
}
