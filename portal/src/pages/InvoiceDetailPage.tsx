/**
 * /invoices/:id — one invoice: its status, its lines and totals exactly as the API
 * computed them (subtotal, discount, tax, total: the portal does no arithmetic on
 * money), its payment (status, amount paid, the next attempt while dunning) and
 * the PDF download.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import type { components } from "../api/schema";
import { useSession } from "../session/useSession";
import {
  Alert,
  Button,
  Card,
  ErrorAlert,
  PageHeader,
  QueryState,
  Table,
  formatDate,
  formatDateTime,
  formatMoney,
  formatNumber,
  formatPeriod,
  formatUnitPrice,
  type Column,
} from "../ui";
import { downloadInvoicePdf } from "./invoices/download";
import { InvoiceStatusBadge, PaymentStatusBadge, paymentStatusLabel } from "./invoices/status";

type Invoice = components["schemas"]["InvoiceResponse"];
type Line = components["schemas"]["InvoiceLineResponse"];

export const invoiceQueryKey = (id: string) => ["invoices", "one", id] as const;

function lineColumns(currency: string): readonly Column<Line>[] {
  return [
    { key: "description", header: "Description", render: (l) => l.description },
    { key: "quantity", header: "Quantity", align: "right", render: (l) => formatNumber(l.quantity, 6) },
    { key: "unit", header: "Unit price", align: "right", render: (l) => formatUnitPrice(l.unit_price, currency) },
    { key: "amount", header: "Amount", align: "right", render: (l) => formatMoney(l.amount_cents, currency) },
  ];
}

/** What the status means for the customer, in a sentence (void and uncollectible need saying). */
function StatusNotice({ invoice }: { invoice: Invoice }) {
  const session = useSession();
  // Only a role that manages the payment method is pointed at it.
  const update = session.can("payment_method") ? (
    <>
      {" "}
      <Link to="/billing/payment-method">Update your payment method</Link> to pay it now.
    </>
  ) : null;
  switch (invoice.status) {
    case "draft":
      return <Alert tone="info">This invoice is a draft: its amounts may still change until it is finalized.</Alert>;
    case "void":
      return <Alert tone="info">This invoice was voided: nothing is owed on it.</Alert>;
    case "uncollectible":
      return (
        <Alert tone="error" title="Payment could not be collected">
          Every attempt to charge this invoice failed.{update}
        </Alert>
      );
    default:
      return invoice.payment_status === "failed" ? (
        <Alert tone="warning" title="The last payment attempt failed">
          {invoice.next_payment_attempt_at ? `We will try again on ${formatDateTime(invoice.next_payment_attempt_at)}.` : null}
          {update}
        </Alert>
      ) : null;
  }
}

function InvoiceView({ invoice }: { invoice: Invoice }) {
  const money = (cents: number) => formatMoney(cents, invoice.currency);
  return (
    <div className="stack">
      <StatusNotice invoice={invoice} />
      <div className="grid-2">
        <Card title="Summary">
          <dl className="dl">
            <dt>Status</dt>
            <dd>
              <InvoiceStatusBadge status={invoice.status} />
            </dd>
            <dt>Period</dt>
            <dd>{formatPeriod(invoice.period)}</dd>
            <dt>Issued</dt>
            <dd>{formatDate(invoice.finalized_at)}</dd>
            <dt>Due</dt>
            <dd>{formatDate(invoice.due_at)}</dd>
            <dt>Total</dt>
            <dd>
              <strong>{money(invoice.total_cents)}</strong>
            </dd>
          </dl>
        </Card>
        <Card title="Payment">
          <dl className="dl">
            <dt>Payment status</dt>
            <dd>
              {invoice.payment_status === null ? paymentStatusLabel(null) : <PaymentStatusBadge status={invoice.payment_status} />}
            </dd>
            <dt>Amount paid</dt>
            <dd>{money(invoice.amount_paid_cents)}</dd>
            <dt>Paid on</dt>
            <dd>{formatDateTime(invoice.paid_at)}</dd>
            <dt>Next attempt</dt>
            <dd>{invoice.next_payment_attempt_at ? formatDateTime(invoice.next_payment_attempt_at) : "None scheduled"}</dd>
          </dl>
        </Card>
      </div>
      <Card title="Lines">
        <div className="stack">
          <Table caption="Invoice lines" columns={lineColumns(invoice.currency)} rows={invoice.lines} rowKey={(l) => `${l.description}|${l.metric ?? ""}|${l.unit_price}`} />
          <dl className="dl totals">
            <dt>Subtotal</dt>
            <dd>{money(invoice.subtotal_cents)}</dd>
            {invoice.discount_cents !== 0 ? (
              <>
                <dt>Discount</dt>
                <dd>−{money(invoice.discount_cents)}</dd>
              </>
            ) : null}
            <dt>Tax</dt>
            <dd>{money(invoice.tax_cents)}</dd>
            <dt>Total</dt>
            <dd>
              <strong>{money(invoice.total_cents)}</strong>
            </dd>
          </dl>
        </div>
      </Card>
    </div>
  );
}

export function InvoiceDetailPage() {
  const { id = "" } = useParams();
  const invoice = useQuery({
    queryKey: invoiceQueryKey(id),
    queryFn: () => unwrap(api.GET("/invoices/{invoice_id}", { params: { path: { invoice_id: id } } })),
  });
  const download = useMutation({ mutationFn: (inv: Invoice) => downloadInvoicePdf(inv.id, inv.number) });
  const data = invoice.data;

  return (
    <>
      <PageHeader
        title={data ? `Invoice ${data.number}` : "Invoice"}
        description={data ? `${formatPeriod(data.period)} · ${formatMoney(data.total_cents, data.currency)}` : undefined}
        actions={
          <>
            <Link to="/invoices" className="btn btn-secondary">
              All invoices
            </Link>
            {data ? (
              <Button loading={download.isPending} onClick={() => download.mutate(data)}>
                Download PDF
              </Button>
            ) : null}
          </>
        }
      />
      <div className="stack">
        {download.error ? <ErrorAlert error={download.error} title="Could not download the PDF" onRetry={data ? () => download.mutate(data) : undefined} /> : null}
        <QueryState query={invoice} loadingLabel="Loading the invoice…" errorTitle="Could not load the invoice">
          {(inv) => <InvoiceView invoice={inv} />}
        </QueryState>
      </div>
    </>
  );
}
