import { useEffect, useState } from "hono/jsx/dom";
import { data, KeyhookError, keyhook, message, type Schemas, session } from "./api";
import { AuditTab } from "./audit-tab";
import { CatalogTab } from "./catalog-tab";
import { Banner, Tabs } from "./components";
import { EventsTab } from "./events-tab";
import { KeysTab } from "./keys-tab";
import { AuthorizedAppsTab, DeploymentAppsSection, OAuthAppsTab } from "./oauth-tab";
import { OperatorKeysSection } from "./operator-keys-section";
import { DeploymentStorageSection } from "./storage-section";
import { WebhooksTab } from "./webhooks-tab";

type Who = Schemas["Whoami"];
type Account = Schemas["Account"];

const TABS = ["API keys", "Webhooks", "Events", "Event catalog", "OAuth apps", "Authorized apps", "Audit log"] as const;
type Tab = (typeof TABS)[number];

export function App() {
  const [who, setWho] = useState<Who | null>(null);
  const [account, setAccount] = useState<Account | null>(null);
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [tab, setTab] = useState<Tab>("API keys");
  const [banner, setBanner] = useState<{ text: string; retry?: () => void } | null>(null);
  const [checking, setChecking] = useState(Boolean(session.token));

  const onError = (text: string, retry?: () => void) => setBanner({ text, retry });

  /** Who the token belongs to; the operator then picks an account. */
  const enter = async (token: string) => {
    setBanner(null);
    try {
      const me = await data(keyhook(token).GET("/v1/whoami"));
      session.save(token, me.type === "operator" ? session.accountId : me.accountId);
      setWho(me);
      if (me.type === "operator") {
        setAccounts((await data(keyhook().GET("/v1/accounts", { params: { query: { limit: 100 } } }))).accounts);
        if (session.accountId) setAccount((await data(keyhook().GET("/v1/account"))).account);
      } else {
        setAccount((await data(keyhook().GET("/v1/account"))).account);
      }
    } catch (err) {
      session.clear();
      setWho(null);
      onError(
        err instanceof KeyhookError && err.status === 401
          ? `That token was not accepted: ${err.message}`
          : message(err),
      );
    } finally {
      setChecking(false);
    }
  };

  useEffect(() => {
    if (session.token) enter(session.token);
  }, []);

  const signOut = () => {
    session.clear();
    setWho(null);
    setAccount(null);
    setAccounts(null);
    setBanner(null);
    setTab("API keys");
  };

  const pick = async (id: string) => {
    session.save(session.token ?? "", id);
    try {
      setAccount((await data(keyhook().GET("/v1/account"))).account);
    } catch (err) {
      onError(message(err));
    }
  };

  return (
    <div class="app">
      <header>
        <h1>
          Admin <span aria-hidden="true">→</span> Integrations
        </h1>
        {who && (
          <div class="who">
            <span>
              {who.name}
              {account ? ` · ${account.name} (${account.plan})` : ""}
            </span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      {banner && (
        <Banner
          text={banner.text}
          onDismiss={() => setBanner(null)}
          onRetry={
            banner.retry &&
            (() => {
              const r = banner.retry ?? (() => {});
              setBanner(null);
              r();
            })
          }
        />
      )}
      <main>
        {checking ? (
          <p class="muted">Signing in...</p>
        ) : !who ? (
          <SignIn onSubmit={enter} />
        ) : who.type === "operator" && !account ? (
          <AccountPicker accounts={accounts} onPick={pick} />
        ) : (
          <div>
            {who.type === "operator" && accounts && (
              <AccountPicker accounts={accounts} onPick={pick} current={account?.id} />
            )}
            <Tabs
              label="Integrations"
              tabs={TABS}
              current={tab}
              onPick={(t) => {
                setBanner(null);
                setTab(t);
              }}
              panelKey={`${tab}-${account?.id}`}
            >
              {tab === "API keys" && (
                <KeysTab onError={onError} defaultRateLimit={account?.limits.rateLimitPerHour ?? null} />
              )}
              {tab === "API keys" && who.type === "operator" && <OperatorKeysSection onError={onError} />}
              {tab === "Webhooks" && <WebhooksTab onError={onError} />}
              {tab === "Events" && <EventsTab onError={onError} />}
              {tab === "Events" && who.type === "operator" && <DeploymentStorageSection onError={onError} />}
              {tab === "Event catalog" && <CatalogTab onError={onError} />}
              {tab === "OAuth apps" && <OAuthAppsTab onError={onError} />}
              {tab === "OAuth apps" && who.type === "operator" && <DeploymentAppsSection onError={onError} />}
              {tab === "Authorized apps" && <AuthorizedAppsTab onError={onError} />}
              {tab === "Audit log" && <AuditTab onError={onError} />}
            </Tabs>
          </div>
        )}
      </main>
    </div>
  );
}

function SignIn(props: { onSubmit: (token: string) => void }) {
  return (
    <form
      class="panel signin"
      aria-label="Sign in"
      onSubmit={(e: Event) => {
        e.preventDefault();
        const token = String(new FormData(e.target as HTMLFormElement).get("token") ?? "").trim();
        if (token) props.onSubmit(token);
      }}
    >
      <p>
        Paste a user token (JWT) from your application, the operator token or an operator key. It is kept for this
        browser session only.
      </p>
      <label for="token">Access token</label>
      <input id="token" name="token" type="password" autoComplete="off" required />
      <button type="submit" class="primary">
        Sign in
      </button>
    </form>
  );
}

function AccountPicker(props: { accounts: Account[] | null; onPick: (id: string) => void; current?: string }) {
  if (!props.accounts) return <p class="muted">Loading accounts...</p>;
  if (props.accounts.length === 0) return <p class="empty">No accounts yet. Create one with POST /v1/accounts.</p>;
  return (
    <div class="picker">
      <label for="account">Account</label>
      <select id="account" onChange={(e: Event) => props.onPick((e.target as HTMLSelectElement).value)}>
        {!props.current && <option value="">Choose an account</option>}
        {props.accounts.map((a) => (
          <option value={a.id} selected={a.id === props.current}>
            {a.name} ({a.plan})
          </option>
        ))}
      </select>
    </div>
  );
}
