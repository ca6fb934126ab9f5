/**
 * The arithmetic of the verification charts, apart from drawing so it can be tested: a value axis
 * with round steps, which buckets get a time label, and how a bucket's time reads.
 */

/** Round steps for a value axis from 0 to at least `max`: 1, 2 or 5 times a power of ten, whole. */
export function valueTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power);
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

/** A value axis label: 950, 1.2k, 3M. */
export function shortCount(n: number): string {
  if (n < 1000) return String(n);
  const [div, unit] = n < 1_000_000 ? [1000, "k"] : [1_000_000, "M"];
  const v = n / div;
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10}${unit}`;
}

export type Granularity = "hour" | "day";

/**
 * The buckets that carry a time label: every 3rd hour of a day and every 5th day of a month,
 * counted from the end so the newest bucket always has one; the first is left out when it would
 * crowd the label beside it.
 */
export function labelledBuckets(length: number, granularity: Granularity): number[] {
  const every = granularity === "hour" ? (length > 12 ? 3 : 1) : length > 10 ? 5 : 1;
  const out: number[] = [];
  for (let i = length - 1; i >= 0; i -= every) out.unshift(i);
  return out;
}

const HOUR = new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const DAY = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric" });
/** A day bucket is a UTC day (the server counts by them), so it is named in UTC wherever it is read. */
const UTC_DAY = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

/** A tick's label: an hour in the reader's time zone (`14:00`, midnight as `Dec 5`), or a UTC day. */
export function tickLabel(start: string, granularity: Granularity): string {
  const d = new Date(start);
  if (granularity === "day") return UTC_DAY.format(d);
  if (d.getHours() === 0 && d.getMinutes() === 0) return DAY.format(d);
  return HOUR.format(d);
}

/** A bucket as a range for the hover card: `Dec 5, 14:00–15:00`, or `Dec 5`. */
export function bucketRange(start: string, granularity: Granularity): string {
  const d = new Date(start);
  if (granularity === "day") return `${UTC_DAY.format(d)} (UTC)`;
  const end = new Date(d.getTime() + 3_600_000);
  return `${DAY.format(d)}, ${HOUR.format(d)}–${HOUR.format(end)}`;
}
