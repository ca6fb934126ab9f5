import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { compose } from "../src/compose";
import { sweep } from "../src/cron/sweep";

describe("the cron", () => {
  it("runs every step even when one fails, logs which, and reports the failure at the end", async () => {
    const services = compose(env, { waitUntil: () => {}, requestId: "cron-test" });
    const ran: string[] = [];
    services.deliveries.requeueOverdue = async () => {
      ran.push("requeue");
      return 0;
    };
    services.events.expireContent = async () => {
      throw new Error("D1 hiccup in the retention");
    };
    services.keys.announceExpiring = async () => {
      ran.push("announce");
      return 0;
    };
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    await expect(sweep(services)).rejects.toThrow("cron steps failed: expired");
    expect(ran).toEqual(["requeue", "announce"]);
    expect(errors.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/cron step failed.*"step":"expired"/);
    errors.mockRestore();
  });
});
