/**
 * How an invoice's state reads in the portal: its lifecycle status and its last
 * charge, as badges with words (colour is never the only signal).
 *
 * Shared by the list and the detail page so an invoice looks the same in both.
 */
import type { components } from "../../api/schema";
import { Badge, type BadgeTone } from "../../ui";

export type InvoiceStatus = components["schemas"]["InvoiceResponse"]["status"];
export type PaymentStatus = NonNullable<components["schemas"]["InvoiceResponse"]["payment_status"]>;

/** The lifecycle in the API's order (draft → finalized → paid | void | uncollectible). */
export const INVOICE_STATUSES: readonly InvoiceStatus[] = ["draft", "finalized", "paid", "void", "uncollectible"];

const STATUS: Record<InvoiceStatus, { label: string; tone: BadgeTone }> = {
  draft: { label: "Draft", tone: "neutral" },
  finalized: { label: "Finalized", tone: "info" },
  paid: { label: "Paid", tone: "success" },
  void: { label: "Void", tone: "neutral" },
  uncollectible: { label: "Uncollectible", tone: "danger" },
};

const PAYMENT: Record<PaymentStatus, { label: string; tone: BadgeTone }> = {
  pending: { label: "Payment pending", tone: "warning" },
  succeeded: { label: "Payment succeeded", tone: "success" },
  failed: { label: "Payment failed", tone: "danger" },
};

/** The status in words (the API's names, capitalised). */
export function statusLabel(status: InvoiceStatus): string {
  return STATUS[status].label;
}

export function InvoiceStatusBadge({ status }: { status: InvoiceStatus }) {
  const { label, tone } = STATUS[status];
  return <Badge tone={tone}>{label}</Badge>;
}

/** The last charge's outcome; nothing when there was none. */
export function PaymentStatusBadge({ status }: { status: PaymentStatus | null }) {
  if (status === null) return null;
  const { label, tone } = PAYMENT[status];
  return <Badge tone={tone}>{label}</Badge>;
}

export function paymentStatusLabel(status: PaymentStatus | null): string {
  return status === null ? "No charge yet" : PAYMENT[status].label;
}
