/**
 * `npm run bench:geo`: the D1 primary as a service. Each simulated colo's `DB` is a client of this
 * (bench/geo/remote-d1.ts), which waits the injected round trip before every call; here each call
 * runs on the one local D1, and is counted.
 */
interface Call {
  sql: string;
  params: unknown[];
  op: "all" | "first" | "run" | "raw";
  column?: string;
  columnNames?: boolean;
}

const stats = { calls: 0, statements: 0, batches: 0 };

async function one(db: D1Database, c: Call) {
  const stmt = db.prepare(c.sql).bind(...c.params);
  switch (c.op) {
    case "first":
      return c.column ? stmt.first(c.column) : stmt.first();
    case "run":
      return stmt.run();
    case "raw":
      return c.columnNames ? stmt.raw({ columnNames: true }) : stmt.raw();
    default:
      return stmt.all();
  }
}

export default {
  async fetch(req: Request, env: { DB: D1Database }): Promise<Response> {
    const path = new URL(req.url).pathname;
    try {
      if (path === "/d1") {
        const c = (await req.json()) as Call;
        stats.calls++;
        stats.statements++;
        return Response.json({ ok: await one(env.DB, c) });
      }
      if (path === "/d1/batch") {
        const calls = (await req.json()) as Call[];
        stats.calls++;
        stats.batches++;
        stats.statements += calls.length;
        const results = await env.DB.batch(calls.map((c) => env.DB.prepare(c.sql).bind(...c.params)));
        return Response.json({ ok: results });
      }
      if (path === "/stats") return Response.json(stats);
      if (path === "/stats/reset") {
        Object.assign(stats, { calls: 0, statements: 0, batches: 0 });
        return Response.json(stats);
      }
    } catch (err) {
      // D1's own message (constraint names and all): the colo's code reads it as it would from D1.
      return Response.json({ error: err instanceof Error ? err.message : String(err) }, { status: 500 });
    }
    return new Response("not found", { status: 404 });
  },
};
