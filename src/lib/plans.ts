/** What a plan allows. Accounts may override `maxActiveKeys` and `rateLimitPerHour`. */
export interface PlanLimits {
  apiAccess: boolean;
  maxActiveKeys: number;
  rateLimitPerHour: number;
}

const PLANS = {
  free: { apiAccess: false, maxActiveKeys: 5, rateLimitPerHour: 100 },
  pro: { apiAccess: true, maxActiveKeys: 5, rateLimitPerHour: 100 },
  enterprise: { apiAccess: true, maxActiveKeys: 50, rateLimitPerHour: 10_000 },
} as const satisfies Record<string, PlanLimits>;

export type PlanName = keyof typeof PLANS;
export const PLAN_NAMES = Object.keys(PLANS) as [PlanName, ...PlanName[]];

export function planLimits(
  plan: string,
  overrides: { maxActiveKeys: number | null; rateLimitPerHour: number | null },
): PlanLimits {
  const base: PlanLimits = PLANS[plan as PlanName] ?? PLANS.free;
  return {
    apiAccess: base.apiAccess,
    maxActiveKeys: overrides.maxActiveKeys ?? base.maxActiveKeys,
    rateLimitPerHour: overrides.rateLimitPerHour ?? base.rateLimitPerHour,
  };
}
