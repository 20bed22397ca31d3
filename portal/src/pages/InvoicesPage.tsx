/**
 * /invoices: the tenant's invoices, newest first, filtered by status, a page at a
 * time with the API's cursor. The filter lives in the URL (`?status=paid`) so a
 * reload or a shared link shows the same list.
 */
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { useCursorList } from "../api/hooks";
import type { components } from "../api/schema";
import { Card, EmptyState, PageHeader, Pagination, QueryState, Select, Table, formatDate, formatMoney, formatPeriod, type Column } from "../ui";
import { INVOICE_STATUSES, InvoiceStatusBadge, PaymentStatusBadge, statusLabel, type InvoiceStatus } from "./invoices/status";

type Invoice = components["schemas"]["InvoiceSummaryResponse"];

const PAGE_SIZE = 25;
const FILTER_OPTIONS = [{ value: "", label: "All statuses" }, ...INVOICE_STATUSES.map((s) => ({ value: s, label: statusLabel(s) }))];

function parseStatus(value: string | null): InvoiceStatus | undefined {
  return INVOICE_STATUSES.find((s) => s === value);
}

const COLUMNS: readonly Column<Invoice>[] = [
  {
    key: "number",
    header: "Invoice",
    render: (inv) => (
      <Link to={`/invoices/${inv.id}`} className="mono">
        {inv.number}
      </Link>
    ),
  },
  { key: "period", header: "Period", render: (inv) => formatPeriod(inv.period) },
  {
    key: "status",
    header: "Status",
    render: (inv) => (
      <span className="row">
        <InvoiceStatusBadge status={inv.status} />
        {/* A paid invoice says so already; otherwise a pending or failed charge is worth seeing in the list. */}
        {inv.status === "paid" ? null : <PaymentStatusBadge status={inv.payment_status} />}
      </span>
    ),
  },
  { key: "due", header: "Due", render: (inv) => formatDate(inv.due_at) },
  { key: "total", header: "Total", align: "right", render: (inv) => formatMoney(inv.total_cents, inv.currency) },
  { key: "paid", header: "Paid", align: "right", render: (inv) => formatMoney(inv.amount_paid_cents, inv.currency) },
];

export function InvoicesPage() {
  const [params, setParams] = useSearchParams();
  const status = parseStatus(params.get("status"));
  const invoices = useCursorList(["invoices", "list", status ?? "all"], (cursor) =>
    unwrap(api.GET("/invoices", { params: { query: { cursor, limit: PAGE_SIZE, status } } })),
  );

  const setStatus = (value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set("status", value);
    else next.delete("status");
    setParams(next, { replace: true });
  };

  return (
    <>
      <PageHeader title="Invoices" description="Your monthly invoices. Open one for its lines, its payment and its PDF." />
      <Card>
        <div className="stack">
          <div className="form">
            <Select label="Status" options={FILTER_OPTIONS} value={status ?? ""} onChange={(e) => setStatus(e.target.value)} />
          </div>
          <QueryState
            query={{ data: invoices.isLoading ? undefined : invoices.items, error: invoices.error, isPending: invoices.isLoading, refetch: invoices.refetch }}
            loadingLabel="Loading invoices…"
            errorTitle="Could not load invoices"
            isEmpty={(items) => items.length === 0}
            empty={
              <EmptyState title={status ? `No ${statusLabel(status).toLowerCase()} invoices` : "No invoices yet"}>
                {status ? "Choose another status to see other invoices." : "Your first invoice appears here after your first billing month ends."}
              </EmptyState>
            }
          >
            {(items) => (
              <>
                <Table caption={status ? `${statusLabel(status)} invoices` : "Invoices"} columns={COLUMNS} rows={items} rowKey={(inv) => inv.id} />
                <Pagination hasMore={invoices.hasMore} loading={invoices.isLoadingMore} onLoadMore={invoices.loadMore} shown={items.length} label="Load more invoices" />
              </>
            )}
          </QueryState>
        </div>
      </Card>
    </>
  );
}
