/** SHA-256 of the presented key, then one indexed D1 read — nothing else. `/ping`: not even that. */
export default {
  async fetch(req: Request, env: { DB: D1Database }): Promise<Response> {
    if (new URL(req.url).pathname === "/ping") return Response.json({ status: "ok" });
    const key = req.headers.get("x-api-key") ?? "";
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
    const hash = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const row = await env.DB.prepare("SELECT id, account_id FROM api_keys WHERE hash = ?").bind(hash).first();
    return row ? Response.json({ id: row.id }) : Response.json({ error: "invalid" }, { status: 401 });
  },
};
