/**
 * The dashboard chart's numbers: cumulative usage per day of the month, the
 * included amount, and a forecast to the month's end.
 *
 * The forecast mirrors the API's upcoming-invoice method (invoices/upcoming.py,
 * "run rate"): usage so far ÷ time elapsed since the later of the period's start
 * and the billing start (at least one day), extended over the time remaining.
 * The invoice's forecast amount itself always comes from the API.
 *
 * Daily usage: `GET /metrics?daily=true` adds to each metric entry a `daily` list
 * (`[{"date": "YYYY-MM-DD", "quantity": "12"}]`: the UTC days with usage, oldest
 * first). The chart then draws the cumulative usage day by day from the month's
 * start: flat over days without usage, rising over a day with some. Without it
 * (an older API, a malformed list) it draws the run-rate line from the start to now.
 */
import type { components } from "../../api/schema";

export type MetricUsage = components["schemas"]["MetricUsageResponse"];

const DAY_MS = 86_400_000;

export interface MonthFrame {
  /** Period start (UTC midnight of day 1), epoch ms. */
  start: number;
  /** Period end (UTC midnight after the last day), epoch ms. */
  end: number;
  days: number;
  /** "Now" clamped into the period, epoch ms. */
  now: number;
  /** When usage starts counting: the later of the period's start and the billing start. */
  rateStart: number;
}

/** The UTC month of `period` ("YYYY-MM"), with now and the billing start placed in it. */
export function monthFrame(period: string, now: number, billingStartDate?: string | null): MonthFrame {
  const [y, m] = period.split("-").map(Number) as [number, number];
  const start = Date.UTC(y, m - 1, 1);
  const end = Date.UTC(y, m, 1);
  const billing = billingStartDate ? Date.parse(`${billingStartDate}T00:00:00Z`) : NaN;
  return {
    start,
    end,
    days: Math.round((end - start) / DAY_MS),
    now: Math.min(Math.max(now, start), end),
    rateStart: Number.isNaN(billing) ? start : Math.min(Math.max(billing, start), end),
  };
}

/** Day-of-month position of a moment: 0 at the start of day 1, `days` at the end. */
export const dayPosition = (frame: MonthFrame, t: number): number => (t - frame.start) / DAY_MS;

/** Usage projected to the end of the month at its run rate so far (never below it). */
export function projectedUsage(used: number, frame: MonthFrame): number {
  const elapsed = Math.max(frame.now - frame.rateStart, DAY_MS);
  const remaining = Math.max(frame.end - frame.now, 0);
  return used + (used * remaining) / elapsed;
}

interface DailyEntry {
  date: string;
  quantity: number;
}

/** The optional `daily` list of a metric entry, as numbers, oldest first (absent or malformed → null). */
export function dailyUsage(metric: MetricUsage): DailyEntry[] | null {
  const raw: unknown = metric.daily;
  if (!Array.isArray(raw)) return null;
  const out: DailyEntry[] = [];
  for (const item of raw as unknown[]) {
    if (typeof item !== "object" || item === null) return null;
    const { date, quantity } = item as Record<string, unknown>;
    const q = typeof quantity === "number" ? quantity : Number(quantity);
    if (typeof date !== "string" || !Number.isFinite(q)) return null;
    out.push({ date, quantity: q });
  }
  return out.sort((a, b) => a.date.localeCompare(b.date));
}

export interface UsageSeries {
  /** Cumulative usage: x = day position, y = units used by then. */
  actual: { x: number; y: number }[];
  /** From now's usage to the projected end of month. */
  forecast: { x: number; y: number }[];
  used: number;
  included: number;
  projected: number;
  /** Whether `actual` comes from daily data (else it is the run-rate line). */
  daily: boolean;
}

export function usageSeries(metric: MetricUsage, frame: MonthFrame): UsageSeries {
  const used = Number(metric.quantity) || 0;
  const included = Number(metric.included) || 0;
  const projected = projectedUsage(used, frame);
  const nowX = dayPosition(frame, frame.now);
  const days = dailyUsage(metric);
  let actual: { x: number; y: number }[];
  if (days) {
    // From day 1, not the billing start: these are the events themselves, whenever billing starts.
    // Each day with usage: flat up to its start, rising to its total by its end (or by now, today).
    actual = [{ x: 0, y: 0 }];
    let total = 0;
    for (const day of days) {
      const dayStart = Date.parse(`${day.date}T00:00:00Z`);
      if (Number.isNaN(dayStart) || dayStart < frame.start || dayStart >= frame.end) continue;
      const fromX = Math.min(dayPosition(frame, dayStart), nowX);
      actual.push({ x: fromX, y: total });
      total += day.quantity;
      actual.push({ x: Math.max(fromX, Math.min(dayPosition(frame, dayStart + DAY_MS), nowX)), y: total });
    }
    // The month's total (usage_monthly) can exceed the days' sum by a batch committed in between.
    actual.push({ x: nowX, y: Math.max(total, used) });
  } else {
    actual = [
      { x: dayPosition(frame, frame.rateStart), y: 0 },
      { x: nowX, y: used },
    ];
  }
  const forecast = frame.now < frame.end ? [{ x: nowX, y: used }, { x: frame.days, y: projected }] : [];
  return { actual, forecast, used, included, projected, daily: days !== null };
}
