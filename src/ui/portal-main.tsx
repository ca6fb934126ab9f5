/**
 * The customer portal (`/portal/`): the admin page's webhooks side for the one account a portal
 * session is for, within its capabilities. The session is an HttpOnly cookie set when the link was
 * opened; this page never sees a credential.
 */
import { render, useEffect, useState } from "hono/jsx/dom";
import { enterPortal, message } from "./api";
import { CatalogTab } from "./catalog-tab";
import { Banner, Tabs } from "./components";
import { EventsTab } from "./events-tab";
import { WebhooksTab } from "./webhooks-tab";

interface PortalSession {
  accountName: string;
  capabilities: string[];
  theme: { name?: string; logoUrl?: string; accent?: string };
  returnUrl: string | null;
  expiresAt: string;
}

const TABS = ["Endpoints", "Event log", "Event catalog"] as const;
type Tab = (typeof TABS)[number];

async function loadSession(): Promise<PortalSession | null> {
  const res = await fetch("/portal/api/session", { headers: { "x-keyhook-portal": "1" } });
  if (res.status === 401) return null;
  if (!res.ok) throw new Error(`The portal answered ${res.status}`);
  return ((await res.json()) as { session: PortalSession }).session;
}

function Portal() {
  const [session, setSession] = useState<PortalSession | null | undefined>(undefined);
  const [tab, setTab] = useState<Tab>("Endpoints");
  const [banner, setBanner] = useState<{ text: string; retry?: () => void } | null>(null);
  const onError = (text: string, retry?: () => void) => setBanner({ text, retry });

  useEffect(() => {
    loadSession()
      .then((s) => {
        if (s) {
          enterPortal(s.capabilities);
          // CSSOM, not an inline style: the CSP's style-src 'self' allows it.
          if (s.theme.accent) document.documentElement.style.setProperty("--accent", s.theme.accent);
          document.title = `${s.theme.name ?? s.accountName} · Webhooks`;
        }
        setSession(s);
      })
      .catch((err) => onError(message(err)));
  }, []);

  const signOut = async () => {
    await fetch("/portal/api/logout", { method: "POST", headers: { "x-keyhook-portal": "1" } }).catch(() => {});
    setSession(null);
  };

  if (session === undefined) return <p class="muted">Loading...</p>;
  if (session === null) {
    return (
      <main class="panel consent">
        <h1>Your session has ended</h1>
        <p>Go back to the application you came from and open the webhooks portal again.</p>
      </main>
    );
  }
  return (
    <div class="app">
      <header>
        <h1>
          {session.theme.logoUrl && <img class="logo" src={session.theme.logoUrl} alt="" height={28} />}
          {session.theme.name ?? session.accountName} <span aria-hidden="true">→</span> Webhooks
        </h1>
        <div class="who">
          {session.returnUrl && (
            <a href={session.returnUrl} target="_top">
              Back
            </a>
          )}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {banner && <Banner text={banner.text} onDismiss={() => setBanner(null)} onRetry={banner.retry} />}
      <main>
        <Tabs
          label="Webhooks"
          tabs={TABS}
          current={tab}
          onPick={(t) => {
            setBanner(null);
            setTab(t);
          }}
        >
          {tab === "Endpoints" && <WebhooksTab onError={onError} />}
          {tab === "Event log" && <EventsTab onError={onError} />}
          {tab === "Event catalog" && <CatalogTab onError={onError} />}
        </Tabs>
      </main>
    </div>
  );
}

const root = document.getElementById("root");
if (root) render(<Portal />, root);
