import { useEffect, useRef, useState } from "hono/jsx/dom";
import { data, keyhook, message, type Schemas } from "./api";
import { bucketRange, type Granularity, labelledBuckets, shortCount, tickLabel, valueTicks } from "./chart-scale";
import { Dialog } from "./components";

type Verifications = Schemas["Verifications"];

/** Outcomes in the order they stack, with their colours: successes at the bottom. */
const OUTCOMES: [string, string, string][] = [
  ["VALID", "#1a7f37", "Valid"],
  ["RATE_LIMITED", "#e8710a", "Rate limited"],
  ["USAGE_EXCEEDED", "#a142f4", "Out of credits"],
  ["INSUFFICIENT_SCOPE", "#b58900", "Missing permission"],
  ["EXPIRED", "#59636e", "Expired"],
  ["DISABLED", "#8c959f", "Disabled"],
  ["REVOKED", "#b3261e", "Revoked"],
  ["PLAN_BLOCKED", "#6e7781", "Plan without API access"],
  ["NOT_FOUND", "#cf222e", "Unknown key"],
  ["MALFORMED", "#ff8182", "Malformed"],
];

const count = (o: Record<string, number | undefined>, name: string) => o[name] ?? 0;

type Outcomes = Verifications["totals"]["outcomes"];

/** The outcomes that happened, in stacking order. */
const present = (outcomes: Outcomes) => OUTCOMES.filter(([name]) => count(outcomes, name) > 0);

/** Each outcome that happened with its swatch and count: the legend, and the hover card's lines. */
function Counts(props: { outcomes: Outcomes }) {
  return (
    <>
      {present(props.outcomes).map(([name, color, text]) => (
        <span class="legend" data-outcome={name}>
          <span class="swatch" style={`background:${color}`} /> {text} {count(props.outcomes, name)}
        </span>
      ))}
    </>
  );
}

/** The plot's box inside the SVG: room on the left for the counts, below for the times. */
const H = 180;
const PAD = { left: 40, right: 8, top: 12, bottom: 22 };
const PLOT_H = H - PAD.top - PAD.bottom;

/** The element's width in CSS pixels, kept as it resizes: the SVG is drawn at it, so text stays 11px. */
function useWidth(fallback: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(200, Math.round(el.clientWidth))));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

/**
 * Outcomes over time as stacked bars, drawn as SVG: a count axis with round steps, a time axis in
 * the reader's time zone, and the totals per outcome as its legend. Pointing at a bucket (or
 * moving through them with the arrow keys) shows its time and each outcome's count.
 */
function StackedChart(props: { verifications: Verifications; label: string }) {
  const { series, totals, granularity } = props.verifications;
  const [active, setActive] = useState<number | null>(null);
  const [ref, W] = useWidth(640);
  const PLOT_W = W - PAD.left - PAD.right;
  const ticks = valueTicks(Math.max(0, ...series.map((s) => s.total)));
  const top = ticks[ticks.length - 1] ?? 1;
  const barW = PLOT_W / Math.max(1, series.length);
  const y = (v: number) => PAD.top + PLOT_H - (v / top) * PLOT_H;
  const failures = totals.total - count(totals.outcomes, "VALID");
  const per = granularity === "hour" ? "hour" : "day";
  const shown = active === null ? null : series[active];
  const move = (e: KeyboardEvent) => {
    const last = series.length - 1;
    const next: Record<string, number | null> = {
      ArrowLeft: Math.max(0, (active ?? last + 1) - 1),
      ArrowRight: Math.min(last, (active ?? -1) + 1),
      Home: 0,
      End: last,
      Escape: null,
    };
    if (!(e.key in next)) return;
    e.preventDefault();
    setActive(next[e.key] ?? null);
  };
  /** The bucket under the pointer, from where it is across the plot. */
  const point = (e: MouseEvent) => {
    const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const x = ((e.clientX - box.left) / box.width) * W - PAD.left;
    setActive(x < 0 || x >= PLOT_W ? null : Math.min(series.length - 1, Math.floor(x / barW)));
  };
  return (
    <figure class="chart">
      {/* A slider over the buckets: the arrow keys or the pointer pick one, and its value reads
          as the bucket's time and counts; the card shows the same to the eye. */}
      <div
        class="plot"
        ref={ref}
        role="slider"
        tabIndex={0}
        aria-label={`${props.label}: verifications per ${per}`}
        aria-valuemin={0}
        aria-valuemax={Math.max(0, series.length - 1)}
        aria-valuenow={active ?? Math.max(0, series.length - 1)}
        aria-valuetext={describe(series[active ?? series.length - 1], granularity)}
        onKeyDown={move}
        onMouseMove={point}
        onBlur={() => setActive(null)}
        onMouseLeave={() => setActive(null)}
      >
        <svg
          viewBox={`0 0 ${W} ${H}`}
          width={W}
          height={H}
          role="img"
          aria-label={`${props.label}: ${totals.total} verifications, ${failures} refused`}
        >
          {ticks.map((t) => (
            <g class="tick">
              <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} />
              <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end">
                {shortCount(t)}
              </text>
            </g>
          ))}
          <text class="unit" x={PAD.left + 4} y={9}>
            per {per}
          </text>
          {labelledBuckets(series.length, granularity).map((i) => (
            <text class="time" x={PAD.left + (i + 0.5) * barW} y={H - 6} text-anchor="middle">
              {tickLabel(series[i]?.start ?? "", granularity)}
            </text>
          ))}
          {active !== null && (
            <rect class="hover" x={PAD.left + active * barW} y={PAD.top} width={barW} height={PLOT_H} />
          )}
          {series.map((s, i) => {
            let base = 0;
            return OUTCOMES.map(([name, color]) => {
              const n = count(s.outcomes, name);
              if (n === 0) return null;
              base += n;
              return (
                <rect
                  x={PAD.left + i * barW + 1}
                  y={y(base)}
                  width={Math.max(1, barW - 2)}
                  height={Math.max(0.5, y(base - n) - y(base))}
                  fill={color}
                />
              );
            });
          })}
          {totals.total === 0 && (
            <text class="empty" x={PAD.left + PLOT_W / 2} y={PAD.top + PLOT_H / 2} text-anchor="middle">
              No verifications in this range
            </text>
          )}
        </svg>
        <div
          class={shown ? "chart-card" : "chart-card idle"}
          aria-hidden="true"
          style={{
            left: `${((PAD.left + ((active ?? 0) + 0.5) * barW) / W) * 100}%`,
            transform: `translateX(${(active ?? 0) > series.length / 2 ? "-100%" : "0"})`,
          }}
        >
          {shown && (
            <>
              <strong>{bucketRange(shown.start, granularity)}</strong>
              <span>{shown.total.toLocaleString("en-US")} verifications</span>
              <Counts outcomes={shown.outcomes} />
            </>
          )}
        </div>
      </div>
      <figcaption>
        <strong>{totals.total.toLocaleString("en-US")}</strong> verifications
        <Counts outcomes={totals.outcomes} />
      </figcaption>
    </figure>
  );
}

/** A bucket in words, for the slider's value: its time, its total and what was refused. */
function describe(bucket: Verifications["series"][number] | undefined, granularity: Granularity): string {
  if (!bucket) return "No data";
  const parts = present(bucket.outcomes).map(([name, , text]) => `${text} ${count(bucket.outcomes, name)}`);
  return `${bucketRange(bucket.start, granularity)}: ${bucket.total} verifications${parts.length ? `, ${parts.join(", ")}` : ""}`;
}

function useVerifications(keyId: string | null, granularity: Granularity) {
  const [result, setResult] = useState<Verifications | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setResult(null);
    const query = keyId ? { keyId, granularity } : { granularity };
    data(keyhook().GET("/v1/analytics/verifications", { params: { query } }))
      .then(setResult)
      .catch((err) => setError(message(err)));
  }, [keyId, granularity]);
  return { result, error };
}

const RANGES: [Granularity, string][] = [
  ["hour", "24 hours"],
  ["day", "30 days"],
];

function Range(props: { value: Granularity; onChange: (g: Granularity) => void }) {
  return (
    <fieldset class="range">
      <legend class="visually-hidden">Range</legend>
      {RANGES.map(([value, text]) => (
        <button
          type="button"
          aria-pressed={props.value === value ? "true" : "false"}
          onClick={() => props.onChange(value)}
        >
          {text}
        </button>
      ))}
    </fieldset>
  );
}

/** The account at a glance: verifications, refusals by reason, the busiest keys. */
export function AccountOverview() {
  const [granularity, setGranularity] = useState<Granularity>("hour");
  const { result, error } = useVerifications(null, granularity);
  return (
    <section class="panel overview" aria-label="Verifications">
      <div class="section-head">
        <h3>Verifications</h3>
        <Range value={granularity} onChange={setGranularity} />
      </div>
      {error && <p class="muted">Could not load verifications: {error}</p>}
      {result && <StackedChart verifications={result} label="All keys" />}
      {result?.topKeys && result.topKeys.length > 0 && (
        <ol class="top-keys" aria-label="Busiest keys">
          {result.topKeys.slice(0, 5).map((k) => (
            <li>
              {k.name ?? k.keyId} <span class="muted">{k.total.toLocaleString("en-US")}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** One key's verifications, in a dialog. */
export function KeyAnalyticsDialog(props: { keyId: string; name: string; onClose: () => void }) {
  const [granularity, setGranularity] = useState<Granularity>("hour");
  const { result, error } = useVerifications(props.keyId, granularity);
  return (
    <Dialog title={`Verifications: ${props.name}`}>
      <Range value={granularity} onChange={setGranularity} />
      {error && <p class="muted">Could not load verifications: {error}</p>}
      {result ? <StackedChart verifications={result} label={props.name} /> : !error && <p class="muted">Loading…</p>}
      <div class="dialog-actions">
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
