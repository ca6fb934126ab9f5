import { Hono } from "hono";
import { type KeyhookBinding, type KeyVerdict, keyhookAuth } from "../../../src/sdk/middleware";

type Env = { Bindings: { KEYHOOK: KeyhookBinding }; Variables: { keyhook: KeyVerdict } };

const invoices = new Map<string, { id: string; amount: number; paid: boolean }[]>();

const app = new Hono<Env>();

app.get("/", (c) =>
  c.text("Protected API example: GET/POST /invoices with a Keyhook key (invoices:read / invoices:write)"),
);

app.get("/invoices", keyhookAuth({ binding: "KEYHOOK", scopes: ["invoices:read"] }), (c) => {
  const account = c.var.keyhook.accountId;
  return c.json({ account, key: c.var.keyhook.name, invoices: invoices.get(account) ?? [] });
});

app.post("/invoices", keyhookAuth({ binding: "KEYHOOK", scopes: ["invoices:write"] }), async (c) => {
  const account = c.var.keyhook.accountId;
  const invoice = {
    id: `inv_${crypto.randomUUID().slice(0, 8)}`,
    amount: Number((await c.req.json()).amount ?? 0),
    paid: false,
  };
  invoices.set(account, [...(invoices.get(account) ?? []), invoice]);
  // Tell the account's webhooks, through Keyhook, with no network hop.
  const published = await c.env.KEYHOOK.publish(account, { type: "invoice.created", entity: invoice });
  return c.json({ invoice, event: "event" in published ? published.event.id : null }, 201);
});

export default app;
