import { DurableObject } from "cloudflare:workers";

/**
 * The local stand-in for Workers Cache (which `wrangler dev` and the tests do not have): one
 * colo's cache of credential records, with the same contract — an entry lives until its expiry or
 * until a purge names one of its tags; a purge removes what is there when it runs, and an entry
 * put afterwards stays (as on the platform, which is why a purge waits out the fill window:
 * `invalidation.ts`). One instance per process (`idFromName("colo")`): every isolate of a
 * `wrangler dev` process shares it, and a second process — another simulated colo — has its own.
 *
 * Chosen by `EDGE_CACHE=local` (`.dev.vars`, the tests); never used when `EDGE_CACHE=workers-cache`.
 */
export class ColoCache extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS entries (
      url TEXT PRIMARY KEY, body TEXT NOT NULL, filled_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS entry_tags (tag TEXT NOT NULL, url TEXT NOT NULL, PRIMARY KEY (tag, url))`,
    );
  }

  /** The entry at `url`, if it has not expired. */
  /** `keyhook doctor`: the object answers (nothing read or written). */
  ping() {
    return "answered";
  }

  get(url: string, now: number): { body: string; filledAt: number } | null {
    const row = this.sql
      .exec<{ body: string; filled_at: number }>(
        "SELECT body, filled_at FROM entries WHERE url = ? AND expires_at > ?",
        url,
        now,
      )
      .toArray()[0];
    return row ? { body: row.body, filledAt: row.filled_at } : null;
  }

  put(url: string, body: string, filledAt: number, expiresAt: number, tags: string[]) {
    this.sql.exec("DELETE FROM entry_tags WHERE url = ?", url);
    this.sql.exec(
      "INSERT OR REPLACE INTO entries (url, body, filled_at, expires_at) VALUES (?, ?, ?, ?)",
      url,
      body,
      filledAt,
      expiresAt,
    );
    for (const tag of tags) this.sql.exec("INSERT OR IGNORE INTO entry_tags (tag, url) VALUES (?, ?)", tag, url);
    // Expired entries go as new ones come (the table stays the size of what is in use).
    this.sql.exec("DELETE FROM entry_tags WHERE url IN (SELECT url FROM entries WHERE expires_at <= ?)", filledAt);
    this.sql.exec("DELETE FROM entries WHERE expires_at <= ?", filledAt);
  }

  /** Removes every entry carrying any of `tags`; answers how many went. */
  purge(tags: string[]): number {
    let removed = 0;
    for (const tag of tags) {
      const urls = this.sql
        .exec<{ url: string }>("SELECT url FROM entry_tags WHERE tag = ?", tag)
        .toArray()
        .map((r) => r.url);
      for (const url of urls) {
        removed += this.sql.exec("DELETE FROM entries WHERE url = ?", url).rowsWritten;
        this.sql.exec("DELETE FROM entry_tags WHERE url = ?", url);
      }
    }
    return removed;
  }
}
