import { type AccountsService, createAccountsService } from "./features/accounts/accounts.service";
import { type AnalyticsService, createAnalyticsService } from "./features/analytics/analytics.service";
import { type AuditService, createAuditService } from "./features/audit/audit.service";
import { type AuthService, createAuthService } from "./features/auth/auth.service";
import { createDeliveriesService, type DeliveriesService } from "./features/deliveries/deliveries.service";
import { createEdgeService, type EdgeService } from "./features/edge/edge.service";
import { createEventsService, type EventsService } from "./features/events/events.service";
import { createHistoryService, type HistoryService } from "./features/history/history.service";
import { createKeysService, type KeysService } from "./features/keys/keys.service";
import { createOAuthClientsService, type OAuthClientsService } from "./features/oauth/clients.service";
import { createOAuthService, type OAuthService } from "./features/oauth/oauth.service";
import { createOperatorKeysService, type OperatorKeysService } from "./features/operator-keys/operator-keys.service";
import { createPortalService, type PortalService } from "./features/portal/portal.service";
import { createProfilesService, type ProfilesService } from "./features/profiles/profiles.service";
import { createWebhooksService, type WebhooksService } from "./features/webhooks/webhooks.service";
import { type Invocation, type Overrides, type Platform, platformOf } from "./platform";

export interface Services {
  platform: Platform;
  auth: AuthService;
  accounts: AccountsService;
  keys: KeysService;
  profiles: ProfilesService;
  audit: AuditService;
  analytics: AnalyticsService;
  webhooks: WebhooksService;
  events: EventsService;
  history: HistoryService;
  deliveries: DeliveriesService;
  oauth: OAuthService;
  oauthClients: OAuthClientsService;
  operatorKeys: OperatorKeysService;
  edge: EdgeService;
  portal: PortalService;
  /** Invalidations of this invocation not confirmed within the answer's budget. */
  readonly unconfirmedInvalidations: readonly { everywhereBy: number }[];
}

/**
 * The composition root: every service, built from `env` for one invocation — a request, a queue
 * batch, a cron run, a service-binding call. Nothing else constructs a service. Each is built the
 * first time it is asked for, so a request that only authenticates builds only `auth`.
 */
export function compose(env: Env, ctx: Invocation, overrides?: Overrides): Services {
  return new Composed(platformOf(env, ctx, overrides));
}

/** Lazy getters on the prototype: no per-request property definitions on the hot path. */
class Composed implements Services {
  #auth?: AuthService;
  #audit?: AuditService;
  #analytics?: AnalyticsService;
  #accounts?: AccountsService;
  #profiles?: ProfilesService;
  #deliveries?: DeliveriesService;
  #events?: EventsService;
  #history?: HistoryService;
  #webhooks?: WebhooksService;
  #keys?: KeysService;
  #oauth?: OAuthService;
  #oauthClients?: OAuthClientsService;
  #operatorKeys?: OperatorKeysService;
  #edge?: EdgeService;
  #portal?: PortalService;

  constructor(readonly platform: Platform) {}

  get auth() {
    this.#auth ??= createAuthService(this.platform, {
      events: () => this.events,
      edge: () => this.edge,
      operatorKeys: () => this.operatorKeys,
    });
    return this.#auth;
  }
  get analytics() {
    this.#analytics ??= createAnalyticsService(this.platform);
    return this.#analytics;
  }
  get audit() {
    this.#audit ??= createAuditService(this.platform);
    return this.#audit;
  }
  get accounts() {
    this.#accounts ??= createAccountsService(this.platform, { edge: () => this.edge, history: () => this.history });
    return this.#accounts;
  }
  get profiles() {
    this.#profiles ??= createProfilesService(this.platform, { edge: () => this.edge });
    return this.#profiles;
  }
  get deliveries() {
    this.#deliveries ??= createDeliveriesService(this.platform, {
      webhooks: () => this.webhooks,
      events: () => this.events,
      history: () => this.history,
    });
    return this.#deliveries;
  }
  get events() {
    this.#events ??= createEventsService(this.platform, {
      disableWebhooks: (disablings) => this.webhooks.disable(disablings),
      history: () => this.history,
    });
    return this.#events;
  }
  get history() {
    this.#history ??= createHistoryService(this.platform);
    return this.#history;
  }
  get webhooks() {
    this.#webhooks ??= createWebhooksService(this.platform, { events: () => this.events });
    return this.#webhooks;
  }
  get oauth() {
    this.#oauth ??= createOAuthService(this.platform, { auth: () => this.auth, edge: () => this.edge });
    return this.#oauth;
  }
  get oauthClients() {
    this.#oauthClients ??= createOAuthClientsService(this.platform, {
      events: () => this.events,
      edge: () => this.edge,
    });
    return this.#oauthClients;
  }
  get operatorKeys() {
    this.#operatorKeys ??= createOperatorKeysService(this.platform);
    return this.#operatorKeys;
  }
  get portal() {
    this.#portal ??= createPortalService(this.platform);
    return this.#portal;
  }
  get edge() {
    this.#edge ??= createEdgeService(this.platform);
    return this.#edge;
  }
  /** Invalidations of this invocation not confirmed within the answer's budget (none if nothing changed). */
  get unconfirmedInvalidations() {
    return this.#edge?.unconfirmed ?? [];
  }
  get keys() {
    this.#keys ??= createKeysService(this.platform, {
      events: () => this.events,
      accounts: this.accounts,
      edge: () => this.edge,
    });
    return this.#keys;
  }
}
