import { IsolateMap } from "../../lib/isolate-memory";
import { describe, type Log } from "../../lib/log";
import type { EdgeTier } from "./edge-tier";

/**
 * Invalidation is part of every change: the API call answers after the purge of what the change
 * touched was acknowledged, so any request that starts after the answer is judged on the new state,
 * in every colo.
 *
 * **Why a purge waits.** A request that missed just before the change read the old record from
 * the primary and may put it into its colo's cache after the purge already ran (a purge removes
 * what is there, not what comes later). So a fill is cached only if its read took at most
 * `EDGE_FILL_WINDOW_MS`, and a change's purge is issued that long plus {@link PUT_MARGIN_MS} after its commit:
 * by then every fill that could have read the old state has been put, and the purge removes it.
 * Only durations are compared, each on one clock, never two isolates' clocks with each other.
 *
 * **Coalescing.** A change's purge joins one already due within {@link SLOT_MS} after its own earliest
 * time, else goes alone at that time; one call carries at most
 * {@link MAX_TAGS_PER_PURGE} tags: 50 revokes in a second are a handful of calls, and an
 * account deleted with 10,000 keys is one tag (`a:<id>`). An isolate also keeps its own token bucket
 * of the platform's purge limits (`EdgeTier.purgeLimit`; Workers Cache: a burst of 25, then 5 a
 * minute), so a burst waits and merges instead of being refused.
 *
 * **When a purge cannot be confirmed** (it fails, or is rate-limited) it is retried with backoff.
 * The call answers when the purge is acknowledged or {@link ANSWER_BUDGET_MS} after the commit,
 * whichever comes first; unconfirmed, it says so (`confirmed: false`) and names the bound: a
 * record is trusted for `EDGE_RECORD_TTL_SECONDS` after its fill, so every colo refuses the old
 * state by `everywhereBy` = commit + TTL, whatever became of the purge. Retries go on in the
 * background until then.
 */

/** Time for a fill's put to be issued after its read: a change's purge waits the fill window and this. */
const PUT_MARGIN_MS = 50;
/** Changes due within one slot share a purge call. */
const SLOT_MS = 50;
/** The platform's limit per purge call. */
const MAX_TAGS_PER_PURGE = 100;
/** The call answers at most this long after its commit, confirmed or not. */
export const ANSWER_BUDGET_MS = 2_500;

export interface InvalidationResult {
  confirmed: boolean;
  /** Business time by which every colo refuses the old state, confirmed or not. */
  everywhereBy: number;
}

interface Slot {
  tags: Set<string>;
  /** Settles when every purge call of the slot was acknowledged (true) or gave up (false). */
  done: Promise<boolean>;
}

interface TierState {
  slots: Map<number, Slot>;
  tokens: number;
  refilledAt: number;
}

/** Per tier (its `key`: the same across an isolate's invocations), the slots waiting to purge. */
const states = new IsolateMap<string, TierState>("edge purge slots per tier", 64);

export interface InvalidationDeps {
  tier: EdgeTier;
  log: Log;
  waitUntil: (p: Promise<unknown>) => void;
  /** Business time (the bound). */
  now: () => number;
  ttlSeconds: number;
  fillWindowMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Takes a purge token, waiting for one if the burst is spent; false if none comes before `deadline`. */
async function takeToken(tier: EdgeTier, state: TierState, deadline: number): Promise<boolean> {
  const limit = tier.purgeLimit;
  if (!limit) return true;
  for (;;) {
    const now = Date.now();
    const refills = Math.floor((now - state.refilledAt) / limit.refillMs);
    if (refills > 0) {
      state.tokens = Math.min(limit.burst, state.tokens + refills);
      state.refilledAt += refills * limit.refillMs;
    }
    if (state.tokens > 0) {
      state.tokens -= 1;
      return true;
    }
    const next = state.refilledAt + limit.refillMs;
    if (next > deadline) return false;
    await sleep(next - now);
  }
}

/** One slot's purge: its tags in calls of at most 100, each retried with backoff until `giveUpAt`. */
async function purgeSlot(deps: InvalidationDeps, state: TierState, tags: string[], giveUpAt: number) {
  for (let i = 0; i < tags.length; i += MAX_TAGS_PER_PURGE) {
    const chunk = tags.slice(i, i + MAX_TAGS_PER_PURGE);
    let backoff = 100;
    for (;;) {
      if (!(await takeToken(deps.tier, state, giveUpAt))) return false;
      try {
        await deps.tier.purge(chunk);
        break;
      } catch (err) {
        if (Date.now() + backoff > giveUpAt) {
          deps.log("error", "edge purge not confirmed; records expire by their TTL", {
            tags: chunk.length,
            error: describe(err),
          });
          return false;
        }
        deps.log("warn", "edge purge failed; retrying", { tags: chunk.length, error: describe(err) });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  }
  return true;
}

/**
 * Purges `tags` after the fill window, coalesced with other changes' purges; resolves when the
 * purge is acknowledged or the answer budget is spent (then `confirmed: false`, retries going on).
 */
export async function invalidate(deps: InvalidationDeps, tags: string[]): Promise<InvalidationResult> {
  const everywhereBy = deps.now() + deps.ttlSeconds * 1000;
  if (deps.tier.mode === "off" || tags.length === 0) return { confirmed: true, everywhereBy };
  const committed = Date.now();
  const earliest = committed + deps.fillWindowMs + PUT_MARGIN_MS;
  let state = states.get(deps.tier.key);
  if (!state) {
    state = { slots: new Map(), tokens: deps.tier.purgeLimit?.burst ?? 0, refilledAt: committed };
    states.set(deps.tier.key, state);
  }
  // Join a purge already due within SLOT_MS after this one may go; else one of its own, at once when due.
  let due = earliest;
  let slot: Slot | undefined;
  for (const [at, s] of state.slots) {
    if (at >= earliest && at <= earliest + SLOT_MS) {
      due = at;
      slot = s;
      break;
    }
  }
  if (!slot) {
    const tagsOfSlot = new Set<string>();
    const owner = state;
    const done = (async () => {
      await sleep(due - Date.now());
      owner.slots.delete(due);
      // Retried until every record the old state could be in has expired anyway.
      return purgeSlot(deps, owner, [...tagsOfSlot], committed + deps.ttlSeconds * 1000);
    })();
    slot = { tags: tagsOfSlot, done };
    state.slots.set(due, slot);
  }
  // Every invocation that joined the slot keeps it alive until it is done.
  deps.waitUntil(slot.done);
  for (const tag of tags) slot.tags.add(tag);
  const answerBy = committed + ANSWER_BUDGET_MS;
  const confirmed = await Promise.race([slot.done, sleep(answerBy - Date.now()).then(() => false)]);
  return { confirmed, everywhereBy };
}
