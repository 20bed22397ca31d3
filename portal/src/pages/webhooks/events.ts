/**
 * The webhook event types an endpoint may subscribe to, with a line each.
 *
 * The list is the API reference's ("Webhooks": Events). The OpenAPI document
 * types `events` as plain strings (no enum), so it cannot be generated; the API
 * refuses an unknown type with a 422 naming the known ones, which the form shows.
 */
export interface WebhookEventType {
  type: string;
  description: string;
}

export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  { type: "invoice.created", description: "A monthly invoice was drafted." },
  { type: "invoice.finalized", description: "An invoice was issued and is due." },
  { type: "invoice.paid", description: "An invoice was paid." },
  { type: "invoice.payment_failed", description: "Charging an invoice failed (it will be retried)." },
  { type: "usage.threshold_reached", description: "A usage alert's threshold was reached this month." },
  { type: "api_key.created", description: "An API key was created." },
  { type: "api_key.revoked", description: "An API key was revoked." },
];
