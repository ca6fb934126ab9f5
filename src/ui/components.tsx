import type { Child } from "hono/jsx";
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { message } from "./api";

type OnError = (text: string, retry?: () => void) => void;

/**
 * A list loaded when shown, and `act`: a change, then the list again. A failed load goes to the
 * banner with Retry (the list shows empty); a failed change goes to the banner.
 */
export function useList<T>(fetchList: () => Promise<T[]>, what: string, onError: OnError) {
  const [items, setItems] = useState<T[] | null>(null);
  const load = async () => {
    try {
      setItems(await fetchList());
    } catch (err) {
      setItems([]);
      onError(`Could not load ${what}: ${message(err)}`, load);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      await load();
    } catch (err) {
      onError(message(err));
    }
  };
  return { items, load, act };
}

/** The red banner: every error, with Dismiss (and Retry when a load failed). */
export function Banner(props: { text: string; onDismiss: () => void; onRetry?: () => void }) {
  return (
    <div class="banner" role="alert">
      <span>{props.text}</span>
      <span class="banner-actions">
        {props.onRetry && (
          <button type="button" onClick={props.onRetry}>
            Retry
          </button>
        )}
        <button type="button" onClick={props.onDismiss}>
          Dismiss
        </button>
      </span>
    </div>
  );
}

/**
 * A modal dialog. Neither a click outside nor Escape closes it: it closes only through its own
 * buttons (the key it shows is never shown again).
 */
export function Dialog(props: { title: string; children: Child }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const block = (e: KeyboardEvent) => {
      if (e.key === "Escape") e.preventDefault();
    };
    document.addEventListener("keydown", block, true);
    ref.current?.querySelector<HTMLElement>("button")?.focus();
    return () => document.removeEventListener("keydown", block, true);
  }, []);
  return (
    <div class="backdrop">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" ref={ref}>
        <h2 id="dialog-title">{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}

/** A secret shown once (an API key, an OAuth client secret), with Copy and Done. */
export function CopySecretDialog(props: {
  secret: string;
  onDone: () => void;
  title?: string;
  label?: string;
  children?: Child;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
    } catch {
      const field = document.getElementById("new-key") as HTMLInputElement | null;
      field?.select();
      document.execCommand("copy");
    }
    setCopied(true);
  };
  return (
    <Dialog title={props.title ?? "Copy your API key"}>
      <p>This is the only time it is shown. Store it somewhere safe now.</p>
      {props.children}
      <label for="new-key">{props.label ?? "Your new API key"}</label>
      <input id="new-key" class="secret" readOnly value={props.secret} />
      <div class="dialog-actions">
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="primary" onClick={props.onDone}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 31_536_000],
  ["month", 2_592_000],
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

function relative(iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const fmt = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return fmt.format(Math.round(seconds / size), unit);
  }
  return iso;
}

const exact = (iso: string) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });

/** A relative time ("5 minutes ago") with the exact time on hover. */
export function When(props: { iso: string | null; never?: string }) {
  if (!props.iso) return <span>{props.never ?? "Never"}</span>;
  return (
    <time dateTime={props.iso} title={exact(props.iso)}>
      {relative(props.iso)}
    </time>
  );
}

/** Requests per hour as a small line, with the numbers for screen readers. */
export function Sparkline(props: { values: number[] | null }) {
  if (!props.values) return <span class="muted">…</span>;
  const values = props.values;
  const max = Math.max(1, ...values);
  const w = 96;
  const h = 24;
  const points = values
    .map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${h - 1 - (v / max) * (h - 2)}`)
    .join(" ");
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <svg
      class="spark"
      width={w}
      height={h}
      viewBox={`0 0 ${w} ${h}`}
      role="img"
      aria-label={`${total} requests in the last 24 hours`}
    >
      <title>{`${total} requests in the last 24 hours`}</title>
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

/** A tab strip and its panel (the admin page's and the portal's); `panelKey` remounts the panel. */
export function Tabs<T extends string>(props: {
  label: string;
  tabs: readonly T[];
  current: T;
  onPick: (tab: T) => void;
  panelKey?: string;
  children: Child;
}) {
  return (
    <>
      <div role="tablist" aria-label={props.label}>
        {props.tabs.map((t) => (
          <button
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-selected={props.current === t ? "true" : "false"}
            aria-controls="tabpanel"
            onClick={() => props.onPick(t)}
          >
            {t}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="tabpanel" aria-labelledby={`tab-${props.current}`} key={props.panelKey ?? props.current}>
        {props.children}
      </div>
    </>
  );
}
