import { env } from "cloudflare:workers";
import { verifyAsync as verifyEd25519 } from "@noble/ed25519";
import { verify as verifyGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { githubSignature, standardSignature, verificationKey } from "../src/features/webhooks/signing";
import { ADMIN, call, createAccount } from "./helpers/api";
import { createWebhook, endOverlap, publish, uniqueName, waitForReceived } from "./helpers/webhooks";

describe("signature algorithms (test vectors)", () => {
  it("Standard Webhooks vector", async () => {
    const sig = await standardSignature(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(sig).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("Standard Webhooks v1a (Ed25519) vector: the signature and the public key", async () => {
    const secret = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
    const sig = await standardSignature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(sig).toBe("v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==");
    expect(await verificationKey(secret)).toBe("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=");
  });

  it("GitHub vector", async () => {
    expect(await githubSignature("It's a Secret to Everybody", "Hello, World!")).toBe(
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
  });
});

describe("a delivered webhook verifies with the public libraries", () => {
  it("standardwebhooks and @octokit/webhooks-methods accept it as it is", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const res = await publish(account.id, { type: "issue.resolved", entity: { id: "iss_1", severity: "major" } });
    expect(res.status).toBe(202);
    const [req] = await waitForReceived(name, 1);
    const payload = new Webhook(secret).verify(req!.body, req!.headers) as Record<string, unknown>;
    expect(payload).toEqual({
      id: res.body.event.id,
      event: "issue.resolved",
      accountId: account.id,
      occurredAt: res.body.event.occurredAt,
      entity: { id: "iss_1", severity: "major" },
    });
    expect(await verifyGithub(secret, req!.body, req!.headers["x-keyhook-signature"]!)).toBe(true);
    expect(req!.headers).toMatchObject({
      "webhook-id": res.body.event.id,
      "x-keyhook-event": "issue.resolved",
      "x-keyhook-webhook-id": webhook.id,
      "x-keyhook-delivery": res.body.deliveries[0].id,
      "content-type": "application/json",
    });
    expect(req!.headers["user-agent"]).toMatch(/^Keyhook-Webhooks\/\d+\.\d+\.\d+$/);
    expect(() =>
      new Webhook(`whsec_${btoa("another secret of 32 bytes......")}`).verify(req!.body, req!.headers),
    ).toThrow();
  });

  it("a pasted secret (≥ 24 characters) signs too", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const secret = `whsec_${btoa("my-own-secret-from-a-vault-01234")}`;
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, secret });
    await publish(account.id, { type: "a.b", entity: {} });
    const [req] = await waitForReceived(name, 1);
    expect(() => new Webhook(secret).verify(req!.body, req!.headers)).not.toThrow();
  });
});

/** A `v1a` delivery verified with @noble/ed25519 and only the `whpk_` public key the API gave. */
async function verifiesV1a(publicKey: string, req: { body: string; headers: Record<string, string> }) {
  const key = Uint8Array.from(atob(publicKey.slice("whpk_".length)), (c) => c.charCodeAt(0));
  const message = new TextEncoder().encode(
    `${req.headers["webhook-id"]}.${req.headers["webhook-timestamp"]}.${req.body}`,
  );
  const results: boolean[] = [];
  for (const part of req.headers["webhook-signature"]!.split(" ")) {
    const [version, signature] = part.split(",");
    if (version !== "v1a") continue;
    const bytes = Uint8Array.from(atob(signature!), (c) => c.charCodeAt(0));
    results.push(await verifyEd25519(bytes, message, key));
  }
  return results.some(Boolean);
}

describe("v1a: Ed25519 signatures, per endpoint", () => {
  it("a v1a webhook: the API gives only the public key, deliveries verify with it and with nothing else", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      signatureScheme: "v1a",
    });
    expect(webhook.signatureScheme).toBe("v1a");
    expect(secret).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    const shown = await call("GET", `/v1/webhooks/${webhook.id}/secret`, { token: ADMIN, accountId: account.id });
    expect(shown.body.secret).toBe(secret);
    const res = await publish(account.id, { type: "issue.resolved", entity: { id: "iss_9" } });
    expect(res.status).toBe(202);
    const [req] = await waitForReceived(name, 1);
    expect(req!.headers["webhook-signature"]).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(req!.headers["x-keyhook-signature"]).toBeUndefined(); // no HMAC secret to sign with
    expect(await verifiesV1a(secret, req!)).toBe(true);
    expect(await verifiesV1a(secret, { ...req!, body: req!.body.replace("iss_9", "iss_8") })).toBe(false);
    const other = await createWebhook(account.id, { url: "https://example.com/x", signatureScheme: "v1a" });
    expect(await verifiesV1a(other.secret, req!)).toBe(false);
    // The stored form is the signing key, encrypted; neither the key nor the public key in plain text.
    const row = await env.DB.prepare("SELECT secret, signature_scheme FROM webhooks WHERE id = ?")
      .bind(webhook.id)
      .first<{ secret: string; signature_scheme: string }>();
    expect(row).toMatchObject({ signature_scheme: "v1a" });
    expect(row!.secret).not.toContain("whsk_");
  });

  it("your own whsk_ key signs (the spec's vector key gives the spec's public key); a broken one is refused", async () => {
    const account = await createAccount();
    const own = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
    const made = await createWebhook(account.id, { url: "https://example.com/x", secret: own });
    expect(made.webhook.signatureScheme).toBe("v1a");
    expect(made.secret).toBe("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=");
    const bad = async (body: Record<string, unknown>) =>
      call("POST", "/v1/webhooks", {
        token: ADMIN,
        accountId: account.id,
        body: { url: "https://example.com/y", events: ["*"], ...body },
      });
    // The public half does not match the seed.
    const broken = `${own.slice(0, -10)}AAAAAAAAA=`;
    for (const body of [
      { secret: broken },
      { secret: "whsk_dG9vIHNob3J0IHRvIGJlIGEga2V5" },
      { secret: own, signatureScheme: "v1" },
      { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", signatureScheme: "v1a" },
      { signatureScheme: "v2" },
    ]) {
      const res = await bad(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
      expect(JSON.stringify(res.body.error)).toMatch(/secret|signatureScheme/);
    }
  });

  it("moving a webhook from v1 to v1a by rotation: the overlap signs with both, then only v1a", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret: hmacSecret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const rotated = await call("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, {
      token: ADMIN,
      accountId: account.id,
      body: { overlapSeconds: 3600, signatureScheme: "v1a" },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhook.signatureScheme).toBe("v1a");
    const publicKey = rotated.body.secret as string;
    expect(publicKey).toMatch(/^whpk_/);
    await publish(account.id, { type: "a.b", entity: {} });
    const [req] = await waitForReceived(name, 1);
    expect(req!.headers["webhook-signature"]!.split(" ").map((s) => s.split(",")[0])).toEqual(["v1a", "v1"]);
    expect(() => new Webhook(hmacSecret).verify(req!.body, req!.headers)).not.toThrow(); // old receivers still verify
    expect(await verifyGithub(hmacSecret, req!.body, req!.headers["x-keyhook-signature"]!)).toBe(true);
    expect(await verifiesV1a(publicKey, req!)).toBe(true);
    await endOverlap(account.id, webhook.id);
    await publish(account.id, { type: "a.b", entity: {} });
    const reqs = await waitForReceived(name, 2);
    expect(reqs[1]!.headers["webhook-signature"]!.split(" ").map((s) => s.split(",")[0])).toEqual(["v1a"]);
    expect(() => new Webhook(hmacSecret).verify(reqs[1]!.body, reqs[1]!.headers)).toThrow();
    expect(await verifiesV1a(publicKey, reqs[1]!)).toBe(true);
    // A rotation without a scheme keeps the webhook's own.
    const again = await call("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, {
      token: ADMIN,
      accountId: account.id,
      body: { overlapSeconds: 0 },
    });
    expect(again.body.webhook.signatureScheme).toBe("v1a");
    expect(again.body.secret).toMatch(/^whpk_/);
    expect(again.body.secret).not.toBe(publicKey);
  });
});
