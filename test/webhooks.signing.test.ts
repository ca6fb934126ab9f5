import { env } from "cloudflare:workers";
import { verify as verifyGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { githubSignature, standardSignature } from "../src/features/webhooks/signing";
import { createAccount } from "./helpers/api";
import { createWebhook, publish, uniqueName, waitForReceived } from "./helpers/webhooks";

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
