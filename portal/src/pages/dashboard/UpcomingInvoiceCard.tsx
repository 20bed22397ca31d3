/**
 * The upcoming invoice (GET /invoices/upcoming): what the period costs so far,
 * its forecast to the period's end, and the lines. Only for roles that read
 * invoices; a tenant whose billing has not started gets a sentence, not an error.
 */
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { Card, EmptyState, QueryState, Table, formatDateTime, formatMoney, formatNumber, formatPeriod, formatUnitPrice } from "../../ui";

type Line = components["schemas"]["InvoiceLineResponse"];

export const upcomingQueryKey = ["invoices", "upcoming"] as const;

export function useUpcomingInvoice(enabled: boolean) {
  return useQuery({
    queryKey: upcomingQueryKey,
    enabled,
    queryFn: async () => {
      try {
        return await unwrap(api.GET("/invoices/upcoming"));
      } catch (error) {
        // 404: billing starts after this period, so nothing is upcoming yet.
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
  });
}

export function UpcomingInvoiceCard({ query }: { query: ReturnType<typeof useUpcomingInvoice> }) {
  return (
    <Card title="Upcoming invoice" actions={<Link to="/invoices">All invoices</Link>}>
      <QueryState
        query={query}
        loadingLabel="Loading the upcoming invoice…"
        errorTitle="Could not load the upcoming invoice"
        isEmpty={(invoice) => invoice === null}
        empty={<EmptyState title="No upcoming invoice">Billing has not started for this period yet.</EmptyState>}
      >
        {(invoice) =>
          invoice === null ? null : (
            <div className="stack">
              <div className="grid-2">
                <div>
                  <p className="muted">So far in {formatPeriod(invoice.period)}</p>
                  <p className="metric-figure">{formatMoney(invoice.total_cents, invoice.currency)}</p>
                </div>
                <div>
                  <p className="muted">Forecast for the whole month</p>
                  <p className="metric-figure">{formatMoney(invoice.forecast.total_cents, invoice.currency)}</p>
                </div>
              </div>
              <p className="muted small">
                As of {formatDateTime(invoice.as_of)}; the period ends {formatDateTime(invoice.period_ends_at)}. Forecast method: {invoice.forecast.method}.
              </p>
              <Table
                caption="Upcoming invoice lines"
                columns={[
                  { key: "d", header: "Description", render: (l: Line) => l.description },
                  { key: "q", header: "Quantity", align: "right", render: (l: Line) => formatNumber(l.quantity, 6) },
                  { key: "u", header: "Unit price", align: "right", render: (l: Line) => formatUnitPrice(l.unit_price, invoice.currency) },
                  { key: "a", header: "Amount", align: "right", render: (l: Line) => formatMoney(l.amount_cents, invoice.currency) },
                ]}
                rows={invoice.lines}
                rowKey={(l) => `${l.description}|${l.metric ?? ""}`}
              />
              <dl className="dl totals">
                <dt>Subtotal</dt>
                <dd>{formatMoney(invoice.subtotal_cents, invoice.currency)}</dd>
                {invoice.discount_cents > 0 ? (
                  <>
                    <dt>Discount</dt>
                    <dd>−{formatMoney(invoice.discount_cents, invoice.currency)}</dd>
                  </>
                ) : null}
                <dt>Tax</dt>
                <dd>{formatMoney(invoice.tax_cents, invoice.currency)}</dd>
                <dt>Total so far</dt>
                <dd>
                  <strong>{formatMoney(invoice.total_cents, invoice.currency)}</strong>
                </dd>
              </dl>
            </div>
          )
        }
      </QueryState>
    </Card>
  );
}
