import { describe, expect, it } from "vitest";
import { bucketRange, labelledBuckets, shortCount, tickLabel, valueTicks } from "../src/ui/chart-scale";

describe("the verification charts' axes", () => {
  it("counts go up in whole, round steps to at least the tallest bar", () => {
    expect(valueTicks(0)).toEqual([0, 1]);
    expect(valueTicks(2)).toEqual([0, 1, 2]);
    expect(valueTicks(10)).toEqual([0, 5, 10]);
    expect(valueTicks(11)).toEqual([0, 5, 10, 15]);
    expect(valueTicks(1234)).toEqual([0, 500, 1000, 1500]);
    expect(valueTicks(38_000)).toEqual([0, 10_000, 20_000, 30_000, 40_000]);
    for (const max of [1, 3, 7, 19, 99, 101, 999, 12_345, 987_654]) {
      const ticks = valueTicks(max);
      expect(ticks.at(-1)).toBeGreaterThanOrEqual(max);
      expect(ticks.length).toBeLessThanOrEqual(6);
      expect(ticks.every(Number.isInteger)).toBe(true);
    }
  });

  it("labels read short", () => {
    expect([950, 1000, 1250, 12_500, 3_000_000].map(shortCount)).toEqual(["950", "1k", "1.3k", "13k", "3M"]);
  });

  it("every 3rd hour and every 5th day is labelled, the newest always", () => {
    expect(labelledBuckets(24, "hour")).toEqual([2, 5, 8, 11, 14, 17, 20, 23]);
    expect(labelledBuckets(30, "day")).toEqual([4, 9, 14, 19, 24, 29]);
    expect(labelledBuckets(5, "hour")).toEqual([0, 1, 2, 3, 4]);
    expect(labelledBuckets(0, "day")).toEqual([]);
  });

  it("times read in the reader's zone: an hour, a day at midnight, a range on hover", () => {
    // The test pool runs in UTC.
    expect(tickLabel("2026-12-05T14:00:00.000Z", "hour")).toBe("14:00");
    expect(tickLabel("2026-12-05T00:00:00.000Z", "hour")).toBe("Dec 5");
    expect(tickLabel("2026-12-05T00:00:00.000Z", "day")).toBe("Dec 5");
    expect(bucketRange("2026-12-05T23:00:00.000Z", "hour")).toBe("Dec 5, 23:00–00:00");
    expect(bucketRange("2026-12-05T00:00:00.000Z", "day")).toBe("Dec 5 (UTC)");
  });
});
