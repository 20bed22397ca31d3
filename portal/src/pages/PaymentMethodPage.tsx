/**
 * /billing/payment-method: the card invoices are charged to (GET
 * /billing/payment-method, or an empty state), and the form that adds or
 * replaces it through Stripe (billing/CardForm). Saving a card makes it the
 * default and retries what is owed.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api/client";
import { ApiError, unwrap } from "../api/errors";
import { Alert, Button, Card, EmptyState, PageHeader, QueryState } from "../ui";
import { CardForm, type Card as SavedCard } from "./billing/CardForm";

export const paymentMethodQueryKey = ["billing", "payment-method"] as const;

const BRANDS: Record<string, string> = {
  visa: "Visa",
  mastercard: "Mastercard",
  amex: "American Express",
  discover: "Discover",
  diners: "Diners Club",
  jcb: "JCB",
  unionpay: "UnionPay",
};

export function brandName(brand: string): string {
  return BRANDS[brand.toLowerCase()] ?? (brand ? brand.charAt(0).toUpperCase() + brand.slice(1) : "Card");
}

export function describeCard(card: SavedCard): string {
  return `${brandName(card.brand)} ending in ${card.last4}`;
}

function expiry(card: SavedCard): string {
  return `${String(card.exp_month).padStart(2, "0")}/${card.exp_year}`;
}

function CardOnFile({ card }: { card: SavedCard }) {
  return (
    <dl className="dl">
      <dt>Card</dt>
      <dd>
        <strong>{brandName(card.brand)}</strong> <span className="mono">•••• {card.last4}</span>
      </dd>
      <dt>Expires</dt>
      <dd>{expiry(card)}</dd>
      <dt>Used for</dt>
      <dd>Every invoice, charged when it is finalized</dd>
    </dl>
  );
}

export function PaymentMethodPage() {
  const queryClient = useQueryClient();
  const [formOpen, setFormOpen] = useState(false);
  const [saved, setSaved] = useState<SavedCard | null>(null);
  const current = useQuery({
    queryKey: paymentMethodQueryKey,
    queryFn: async () => {
      try {
        return await unwrap(api.GET("/billing/payment-method"));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null; // no card on file yet
        throw error;
      }
    },
  });
  const hasCard = Boolean(current.data);
  const open = () => {
    setSaved(null);
    setFormOpen(true);
  };

  return (
    <>
      <PageHeader title="Payment method" description="The card your invoices are charged to when they are finalized." />
      <div className="stack">
        {saved ? (
          <Alert tone="success" title="Card saved">
            {describeCard(saved)} is now your payment method.
          </Alert>
        ) : null}
        <Card
          title="Card on file"
          actions={
            hasCard && !formOpen ? (
              <Button variant="secondary" size="sm" onClick={open}>
                Replace card
              </Button>
            ) : undefined
          }
        >
          <QueryState
            query={current}
            loadingLabel="Loading your payment method…"
            errorTitle="Could not load your payment method"
            isEmpty={(card) => card === null}
            empty={
              <EmptyState title="No card on file" action={formOpen ? undefined : <Button onClick={open}>Add a card</Button>}>
                Add a card so your invoices are paid automatically.
              </EmptyState>
            }
          >
            {(card) => (card ? <CardOnFile card={card} /> : null)}
          </QueryState>
        </Card>
        {formOpen ? (
          <Card title={hasCard ? "Replace your card" : "Add a card"}>
            <CardForm
              onCancel={() => setFormOpen(false)}
              onSaved={(card) => {
                queryClient.setQueryData(paymentMethodQueryKey, card);
                setSaved(card);
                setFormOpen(false);
              }}
            />
          </Card>
        ) : null}
      </div>
    </>
  );
}
