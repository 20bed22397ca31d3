/**
 * This month's usage per metric against the included amount: a meter per metric,
 * the chart (cumulative usage by day, included line, forecast) for the chosen
 * metric, and the same numbers in a table.
 */
import { useState } from "react";
import type { components } from "../../api/schema";
import { Button, Card, EmptyState, LineChart, Table, formatCompact, formatMetric, formatNumber, formatPeriod } from "../../ui";
import { monthFrame, usageSeries, type MetricUsage } from "./series";

type Usage = components["schemas"]["UsageResponse"];

export interface UsageCardProps {
  usage: Usage;
  /** The tenant's billing start date ("YYYY-MM-DD"), from GET /customers/me. */
  billingStartDate: string | null;
  /** The moment the numbers are for (epoch ms). */
  now: number;
}

function percentOf(used: number, included: number): number {
  return included > 0 ? Math.round((used / included) * 100) : 0;
}

function MetricMeter({ metric }: { metric: MetricUsage }) {
  const used = Number(metric.quantity) || 0;
  const included = Number(metric.included) || 0;
  const billable = Number(metric.billable) || 0;
  const name = formatMetric(metric.metric);
  const pct = percentOf(used, included);
  return (
    <div className="stack metric-usage">
      <h3>{name}</h3>
      <p className="metric-figure">{formatNumber(metric.quantity)}</p>
      <p className="muted">
        of {formatNumber(metric.included)} included ({pct}%)
      </p>
      <meter
        className="usage-meter"
        min={0}
        max={included > 0 ? included : 1}
        high={included > 0 ? included * 0.8 : undefined}
        optimum={0}
        value={Math.min(used, included > 0 ? included : used)}
        aria-label={`${name}: ${pct}% of the included amount used`}
      />
      {billable > 0 ? <p className="over">{formatNumber(metric.billable)} billable above the included amount</p> : null}
    </div>
  );
}

export function UsageCard({ usage, billingStartDate, now }: UsageCardProps) {
  const [selected, setSelected] = useState<string | null>(null);
  const metrics = usage.metrics;
  if (metrics.length === 0) {
    return (
      <Card title="Usage this month">
        <EmptyState title="No metrics yet">Usage appears here once your plan has metrics and events are sent.</EmptyState>
      </Card>
    );
  }
  const frame = monthFrame(usage.period, now, billingStartDate);
  const current = metrics.find((m) => m.metric === selected) ?? metrics[0]!;
  const series = usageSeries(current, frame);
  const name = formatMetric(current.metric);
  const dayLabel = (x: number) => String(Math.round(x) + 1);
  const ticks = [0, 7, 14, 21, 28].filter((d) => d < frame.days);
  const month = formatPeriod(usage.period);

  return (
    <Card title={`Usage in ${month}`}>
      <div className="stack">
        <div className="metric-grid">
          {metrics.map((m) => (
            <MetricMeter key={m.metric} metric={m} />
          ))}
        </div>
        {metrics.length > 1 ? (
          <div className="tabs" role="group" aria-label="Metric shown in the chart">
            {metrics.map((m) => (
              <Button key={m.metric} size="sm" variant={m === current ? "primary" : "secondary"} aria-pressed={m === current} onClick={() => setSelected(m.metric)}>
                {formatMetric(m.metric)}
              </Button>
            ))}
          </div>
        ) : null}
        <LineChart
          title={`${name} used in ${month}, by day`}
          description={`${formatNumber(series.used)} used so far against ${formatNumber(series.included)} included; about ${formatNumber(Math.round(series.projected))} forecast by the end of the month.`}
          series={[
            { name: series.daily ? "Used (cumulative, by day)" : "Used so far (run rate)", points: series.actual, tone: "primary", area: true },
            { name: "Forecast", points: series.forecast, tone: "forecast", dashed: true },
          ]}
          references={series.included > 0 ? [{ name: `Included (${formatNumber(series.included)})`, y: series.included, tone: "reference" }] : []}
          xMin={0}
          xMax={frame.days}
          xTicks={ticks}
          formatX={dayLabel}
          formatY={formatCompact}
        />
        <Table
          caption={`Usage by metric, ${month}`}
          columns={[
            { key: "metric", header: "Metric", render: (m: MetricUsage) => formatMetric(m.metric) },
            { key: "used", header: "Used", align: "right", render: (m: MetricUsage) => formatNumber(m.quantity) },
            { key: "included", header: "Included", align: "right", render: (m: MetricUsage) => formatNumber(m.included) },
            { key: "billable", header: "Billable", align: "right", render: (m: MetricUsage) => formatNumber(m.billable) },
            {
              key: "forecast",
              header: "Forecast (month end)",
              align: "right",
              render: (m: MetricUsage) => formatNumber(Math.round(usageSeries(m, frame).projected)),
            },
          ]}
          rows={metrics}
          rowKey={(m) => m.metric}
        />
      </div>
    </Card>
  );
}
