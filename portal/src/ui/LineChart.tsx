/**
 * A small SVG line chart (no chart library: the bundle's size is a bench figure).
 *
 * Series are drawn over a numeric x axis (e.g. day of month) from 0 to `yMax`
 * (or the data's maximum); reference lines (e.g. the included amount) are
 * horizontal. Colours come from CSS classes (`chart-<tone>`), never inline style,
 * because the CSP has no 'unsafe-inline' for styles. The SVG is an image with a
 * title and a text description; the legend is HTML.
 */
import { useId } from "react";

export type ChartTone = "primary" | "forecast" | "reference" | "danger";

export interface ChartSeries {
  name: string;
  points: readonly { x: number; y: number }[];
  tone: ChartTone;
  dashed?: boolean;
  /** Fill the area under the line (lightly). */
  area?: boolean;
}

export interface ChartReference {
  name: string;
  y: number;
  tone: ChartTone;
}

export interface LineChartProps {
  /** The chart's accessible name (and the SVG <title>). */
  title: string;
  /** A sentence for screen readers saying what the chart shows (the numbers are also in the page). */
  description: string;
  series: readonly ChartSeries[];
  references?: readonly ChartReference[];
  xMin: number;
  xMax: number;
  /** Tick labels on the x axis (e.g. days 1, 8, 15, 22, 29). */
  xTicks: readonly number[];
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
}

const W = 640;
const H = 260;
const PAD = { top: 16, right: 16, bottom: 36, left: 64 };

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(value)));
  const f = value / exp;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nice * exp;
}

export function LineChart({ title, description, series, references = [], xMin, xMax, xTicks, formatX = String, formatY = String }: LineChartProps) {
  const id = useId();
  const dataMax = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y)), ...references.map((r) => r.y));
  const yMax = niceMax(dataMax * 1.05);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - xMin) / Math.max(1, xMax - xMin)) * plotW;
  const sy = (y: number) => PAD.top + plotH - (Math.min(y, yMax) / yMax) * plotH;
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const path = (points: ChartSeries["points"]) => points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-t ${id}-d`} className="chart-svg">
        <title id={`${id}-t`}>{title}</title>
        <desc id={`${id}-d`}>{description}</desc>
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line x1={PAD.left} x2={W - PAD.right} y1={sy(t)} y2={sy(t)} className="chart-grid" />
            <text x={PAD.left - 8} y={sy(t)} className="chart-axis" textAnchor="end" dominantBaseline="middle">
              {formatY(t)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} x={sx(t)} y={H - PAD.bottom + 24} className="chart-axis" textAnchor="middle">
            {formatX(t)}
          </text>
        ))}
        {references.map((r) => (
          <line key={r.name} x1={PAD.left} x2={W - PAD.right} y1={sy(r.y)} y2={sy(r.y)} className={`chart-line chart-${r.tone} chart-dashed`} />
        ))}
        {series.map((s) =>
          s.points.length === 0 ? null : (
            <g key={s.name}>
              {s.area && s.points.length > 1 ? (
                <path
                  d={`${path(s.points)} L${sx(s.points[s.points.length - 1]!.x).toFixed(1)},${sy(0)} L${sx(s.points[0]!.x).toFixed(1)},${sy(0)} Z`}
                  className={`chart-area chart-${s.tone}`}
                />
              ) : null}
              <path d={path(s.points)} className={`chart-line chart-${s.tone}${s.dashed ? " chart-dashed" : ""}`} />
            </g>
          ),
        )}
      </svg>
      <figcaption>
        <ul className="chart-legend">
          {series.map((s) => (
            <li key={s.name}>
              <span className={`legend-swatch chart-${s.tone}${s.dashed ? " legend-dashed" : ""}`} aria-hidden="true" />
              {s.name}
            </li>
          ))}
          {references.map((r) => (
            <li key={r.name}>
              <span className={`legend-swatch chart-${r.tone} legend-dashed`} aria-hidden="true" />
              {r.name}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
