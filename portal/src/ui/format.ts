/**
 * Money, numbers and dates for the user's locale (navigator.language).
 *
 * Money arrives as integer cents plus an ISO currency; quantities and unit prices
 * as decimal strings (the API never sends floats for them). Formatting never does
 * arithmetic on money: cents / 100 is exact enough for display up to 2^53 cents.
 */
const locale = (): string => (typeof navigator !== "undefined" && navigator.language) || "en-US";

const cache = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function cached<F extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: () => F): F {
  const hit = cache.get(key);
  if (hit) return hit as F;
  const made = make();
  cache.set(key, made);
  return made;
}

/** `formatMoney(123456, "USD")` → "$1,234.56" (in en-US). */
export function formatMoney(cents: number, currency = "USD"): string {
  const code = currency.toUpperCase();
  const fmt = cached(`money:${code}`, () => new Intl.NumberFormat(locale(), { style: "currency", currency: code }));
  return fmt.format(cents / 100);
}

/** A decimal string or number as a grouped number: "1234567" → "1,234,567"; "0.5" → "0.5". */
export function formatNumber(value: string | number, maximumFractionDigits = 2): string {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  return cached(`num:${maximumFractionDigits}`, () => new Intl.NumberFormat(locale(), { maximumFractionDigits })).format(n);
}

/** A compact number for chart axes: 1200000 → "1.2M". */
export function formatCompact(value: number): string {
  return cached("compact", () => new Intl.NumberFormat(locale(), { notation: "compact", maximumFractionDigits: 1 })).format(value);
}

/** A unit price (decimal string, maybe fractions of a cent) in the currency: "0.0015" → "$0.0015". */
export function formatUnitPrice(value: string, currency = "USD"): string {
  const n = Number(value);
  if (!Number.isFinite(n)) return value;
  const decimals = Math.min(6, Math.max(2, (value.split(".")[1] ?? "").replace(/0+$/, "").length));
  return cached(`unit:${currency}:${decimals}`, () =>
    new Intl.NumberFormat(locale(), { style: "currency", currency: currency.toUpperCase(), minimumFractionDigits: 2, maximumFractionDigits: decimals }),
  ).format(n);
}

function toDate(value: string | Date): Date | null {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A date: "Oct 31, 2026". Null/empty → "—". */
export function formatDate(value: string | Date | null | undefined): string {
  if (!value) return "—";
  const d = toDate(value);
  return d ? cached("date", () => new Intl.DateTimeFormat(locale(), { dateStyle: "medium" })).format(d) : String(value);
}

/** A moment: "Oct 31, 2026, 11:59 PM". Null/empty → "—". */
export function formatDateTime(value: string | Date | null | undefined): string {
  if (!value) return "—";
  const d = toDate(value);
  return d ? cached("datetime", () => new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" })).format(d) : String(value);
}

/** A billing period "2026-10" → "October 2026" (periods are UTC calendar months). */
export function formatPeriod(period: string): string {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  if (!match) return period;
  const d = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
  return cached("period", () => new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" })).format(d);
}

/** A metric name "api_calls" → "API calls"; "compliance_scans" → "Compliance scans". */
export function formatMetric(metric: string): string {
  const words = metric.split("_").filter(Boolean);
  return words
    .map((w, i) => (w === "api" ? "API" : i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(" ");
}

/** The current UTC billing period, "YYYY-MM". */
export function currentPeriod(now: Date = new Date()): string {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
}
