import { useEffect, useState } from "hono/jsx/dom";
import { data, keyhook, message, type Schemas } from "./api";
import { Dialog } from "./components";

type Verifications = Schemas["Verifications"];
type Granularity = "hour" | "day";

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

/** Outcomes over time as stacked bars, drawn as SVG; the totals per outcome are its legend. */
function StackedChart(props: { verifications: Verifications; label: string }) {
  const { series, totals } = props.verifications;
  const W = 640;
  const H = 140;
  const max = Math.max(1, ...series.map((s) => s.total));
  const barW = W / series.length;
  const present = OUTCOMES.filter(([name]) => count(totals.outcomes, name) > 0);
  const failures = totals.total - count(totals.outcomes, "VALID");
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        height={H}
        role="img"
        aria-label={`${props.label}: ${totals.total} verifications, ${failures} refused`}
      >
        {series.map((s, i) => {
          let y = H;
          return OUTCOMES.map(([name, color]) => {
            const n = count(s.outcomes, name);
            if (n === 0) return null;
            const h = (n / max) * (H - 4);
            y -= h;
            return (
              <rect x={i * barW + 1} y={y} width={Math.max(1, barW - 2)} height={h} fill={color}>
                <title>{`${s.start}: ${n} ${name}`}</title>
              </rect>
            );
          });
        })}
      </svg>
      <figcaption>
        <strong>{totals.total.toLocaleString("en-US")}</strong> verifications
        {present.map(([name, color, text]) => (
          <span class="legend" data-outcome={name}>
            <span class="swatch" style={`background:${color}`} /> {text} {count(totals.outcomes, name)}
          </span>
        ))}
      </figcaption>
    </figure>
  );
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
